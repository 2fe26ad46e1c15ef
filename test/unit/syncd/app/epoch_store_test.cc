// The epoch store: grows at every start, never below the wall clock's seconds, so a state
// directory restored from an older copy cannot roll the epoch back (the peer would ignore the
// new stream as stale). Files in a temporary directory.
#include "syncd/app/epoch_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace gwsync::syncd {
namespace {

class EpochStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gwsync-epoch-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void store(const std::string& text) { std::ofstream(dir_ + "/epoch") << text; }
  std::string stored() {
    std::ifstream in(dir_ + "/epoch");
    std::string s;
    std::getline(in, s);
    return s;
  }
  static uint64_t wallSeconds() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  }
  std::string dir_;
};

TEST_F(EpochStoreTest, FirstStartIsAtLeastTheWallClock) {
  const uint64_t before = wallSeconds();
  auto e = bumpEpoch(dir_);
  ASSERT_TRUE(e) << e.error();
  EXPECT_GE(*e, before);
  EXPECT_LE(*e, wallSeconds());
  EXPECT_EQ(stored(), std::to_string(*e));
}

TEST_F(EpochStoreTest, GrowsAtEveryStartEvenFasterThanTheClock) {
  auto first = bumpEpoch(dir_);
  ASSERT_TRUE(first);
  uint64_t last = *first;
  for (int i = 0; i < 5; ++i) {  // five starts within the same second
    auto e = bumpEpoch(dir_);
    ASSERT_TRUE(e);
    EXPECT_EQ(*e, last + 1);
    last = *e;
  }
}

TEST_F(EpochStoreTest, RestoredOlderCopyDoesNotRollBack) {
  store("7\n");  // a copy from long ago: the clock has moved on since
  auto e = bumpEpoch(dir_);
  ASSERT_TRUE(e);
  EXPECT_GE(*e, wallSeconds() - 1);
  EXPECT_GT(*e, 8u);
}

TEST_F(EpochStoreTest, StoredValueAheadOfTheClockStillGrowsByOne) {
  const uint64_t ahead = wallSeconds() + 1000;
  store(std::to_string(ahead));
  auto e = bumpEpoch(dir_);
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, ahead + 1);
}

TEST_F(EpochStoreTest, EpochBeyondThirtyTwoBitsIsRefusedWithTheFile) {
  store(std::to_string(kMaxEpoch));
  auto e = bumpEpoch(dir_);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find(dir_ + "/epoch"), std::string::npos) << e.error();
  EXPECT_NE(e.error().find("too large"), std::string::npos) << e.error();
  EXPECT_EQ(stored(), std::to_string(kMaxEpoch));  // left as it was
}

TEST_F(EpochStoreTest, GarbageIsAnErrorNotAReset) {
  store("twelve\n");
  auto e = bumpEpoch(dir_);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find("not an epoch number"), std::string::npos) << e.error();
}

}  // namespace
}  // namespace gwsync::syncd
