#include "nat/partition.h"

#include <gtest/gtest.h>

#include <vector>

namespace gwsync::nat {
namespace {

std::vector<NodePartition> derived(PortRange pool, std::vector<uint32_t> nodes) {
  auto r = derivePartitions(pool, nodes);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  return r.ok() ? *r : std::vector<NodePartition>{};
}

std::vector<std::string> problems(PortRange pool, std::vector<NodePartition> parts,
                                  std::vector<uint32_t> nodes = {1, 2}) {
  std::vector<std::string> out;
  for (const auto& p : checkPartitions(pool, parts, nodes)) {
    out.push_back(std::to_string(p.node) + ": " + p.message);
  }
  return out;
}

TEST(DerivePartitionsTest, TwoNodesSplitEvenly) {
  EXPECT_EQ(derived({1024, 65535}, {1, 2}),
            (std::vector<NodePartition>{{1, {1024, 33279}}, {2, {33280, 65535}}}));
}

TEST(DerivePartitionsTest, IndexFollowsNodeIdOrderNotListOrder) {
  // Callers sort; the same pair gives the same split on both nodes.
  EXPECT_EQ(derived({1, 100}, {7, 9}), (std::vector<NodePartition>{{7, {1, 50}}, {9, {51, 100}}}));
}

TEST(DerivePartitionsTest, RemainderGoesToTheLastNode) {
  EXPECT_EQ(derived({1, 10}, {1, 2, 3}),
            (std::vector<NodePartition>{{1, {1, 3}}, {2, {4, 6}}, {3, {7, 10}}}));
  EXPECT_EQ(
      derived({1024, 65535}, {1, 2, 3}),
      (std::vector<NodePartition>{{1, {1024, 22527}}, {2, {22528, 44031}}, {3, {44032, 65535}}}));
}

TEST(DerivePartitionsTest, OneNodeGetsEverything) {
  EXPECT_EQ(derived({1, 65535}, {5}), (std::vector<NodePartition>{{5, {1, 65535}}}));
}

TEST(DerivePartitionsTest, BlocksAreDisjointAndCoverTheRange) {
  for (uint32_t count = 1; count <= 7; ++count) {
    std::vector<uint32_t> nodes;
    for (uint32_t n = 1; n <= count; ++n) nodes.push_back(n * 10);
    const auto parts = derived({1000, 1013}, nodes);
    ASSERT_EQ(parts.size(), count);
    EXPECT_EQ(parts.front().ports.lo, 1000);
    EXPECT_EQ(parts.back().ports.hi, 1013);
    for (size_t i = 1; i < parts.size(); ++i) {
      EXPECT_EQ(parts[i].ports.lo, parts[i - 1].ports.hi + 1) << count;
    }
  }
}

TEST(DerivePartitionsTest, FailsWhenFewerPortsThanNodes) {
  auto r = derivePartitions({5000, 5001}, std::vector<uint32_t>{1, 2, 3});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "port range 5000-5001 has 2 ports, fewer than the 3 nodes (1, 2, 3)");
  EXPECT_TRUE(derivePartitions({5000, 5001}, std::vector<uint32_t>{1, 2}).ok());
}

TEST(CheckPartitionsTest, AcceptsDisjointPartitionsWithGaps) {
  EXPECT_TRUE(problems({1024, 65535}, {{1, {1024, 32767}}, {2, {32768, 65535}}}).empty());
  EXPECT_TRUE(problems({1024, 65535}, {{2, {40000, 50000}}, {1, {2000, 3000}}}).empty());
}

TEST(CheckPartitionsTest, ReportsOverlapOnTheLaterEntry) {
  EXPECT_EQ(problems({1024, 65535}, {{1, {1024, 40000}}, {2, {32768, 65535}}}),
            std::vector<std::string>{
                "2: partition of node 2 (32768-65535) overlaps the partition of node 1 "
                "(1024-40000): both could pick the same public port"});
}

TEST(CheckPartitionsTest, ReportsUnknownNodes) {
  EXPECT_EQ(problems({1024, 65535}, {{1, {1024, 2000}}, {2, {3000, 4000}}, {3, {5000, 6000}}}),
            std::vector<std::string>{"3: node 3 is not a node of this pair (nodes: 1, 2)"});
}

TEST(CheckPartitionsTest, ReportsPartitionsOutsideThePool) {
  EXPECT_EQ(problems({1024, 65535}, {{1, {80, 2000}}, {2, {3000, 4000}}}),
            std::vector<std::string>{
                "1: partition of node 1 (80-2000) lies outside the pool's ports 1024-65535"});
}

TEST(CheckPartitionsTest, ReportsMissingAndDuplicateNodes) {
  EXPECT_EQ(problems({1024, 65535}, {{1, {1024, 2000}}, {1, {3000, 4000}}}),
            (std::vector<std::string>{
                "1: node 1 has two partitions",
                "2: node 2 has no partition: it could not translate to this pool"}));
}

TEST(CheckPartitionsTest, AttributesProblemsToEntries) {
  const std::vector<NodePartition> parts{{1, {1024, 2000}}, {2, {1500, 2500}}};
  const auto found = checkPartitions({1024, 65535}, parts, std::vector<uint32_t>{1, 2});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].entry, 1u);
}

}  // namespace
}  // namespace gwsync::nat
