#include "syncd/app/metrics.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace gwsync::syncd {
namespace {

// The stats structs a sample refers to, all zero to start with.
struct Sources {
  DaemonStats daemon;
  CtEventStats events;
  SenderStats sender;
  ReceiverStats receiver;
  EngineStats engine;
  PeerChannelStats channel;

  MetricsSample sample(std::chrono::microseconds now = std::chrono::microseconds{1}) const {
    return MetricsSample{.now = now,
                         .peer_up = true,
                         .ready = true,
                         .epoch = 7,
                         .peer_epoch = 3,
                         .unacked = 12,
                         .pending = 4,
                         .queued_bytes = 100,
                         .bulk_in_progress = false,
                         .sessions_owned = 1000,
                         .sessions_peer = 2000,
                         .sessions_unresolved = 5,
                         .oldest_unacked_age = std::chrono::milliseconds(250),
                         .daemon = daemon,
                         .events = events,
                         .sender = sender,
                         .receiver = receiver,
                         .engine = engine,
                         .channel = channel};
  }
};

MetricsInfo info() {
  return {.node_id = 1,
          .peer_id = 2,
          .site = "fra1",
          .mode = "hot",
          .version = "0.1.0",
          .window = 8192};
}

// The value of one series in the exposition ("" when absent).
std::string value(const std::string& text, const std::string& series) {
  const std::string key = "\n" + series + " ";
  const size_t at = ("\n" + text).find(key);
  if (at == std::string::npos) return "";
  const size_t from = at + key.size() - 1;
  return text.substr(from, text.find('\n', from) - from);
}

TEST(MetricsTest, GaugesShowTheLatestSample) {
  Metrics m(info());
  Sources src;
  m.update(src.sample());
  const std::string text = m.render();
  EXPECT_EQ(value(text, "gwsync_peer_up"), "1");
  EXPECT_EQ(value(text, "gwsync_ready"), "1");
  EXPECT_EQ(value(text, "gwsync_epoch"), "7");
  EXPECT_EQ(value(text, "gwsync_unacked_items"), "12");
  EXPECT_EQ(value(text, "gwsync_window_items"), "8192");
  EXPECT_EQ(value(text, "gwsync_sessions{table=\"peer\"}"), "2000");
  EXPECT_EQ(value(text, "gwsync_sessions{table=\"unresolved\"}"), "5");
  EXPECT_EQ(value(text, "gwsync_oldest_unacked_age_seconds"), "0.25");
  EXPECT_EQ(value(text,
                  "gwsync_node_info{mode=\"hot\",node_id=\"1\",peer_id=\"2\",site=\"fra1\","
                  "version=\"0.1.0\"}"),
            "1");
}

TEST(MetricsTest, CountersFollowTheirSourceAndNeverGoBack) {
  Metrics m(info());
  Sources src;
  src.sender.items_sent = 10;
  m.update(src.sample());
  EXPECT_EQ(value(m.render(), "gwsync_items_sent_total"), "10");
  src.sender.items_sent = 5;  // a source must not do this; the counter must not follow
  m.update(src.sample());
  EXPECT_EQ(value(m.render(), "gwsync_items_sent_total"), "10");
  src.sender.items_sent = 12;
  m.update(src.sample());
  EXPECT_EQ(value(m.render(), "gwsync_items_sent_total"), "17");
}

TEST(MetricsTest, ReasonsAreLabelsOfOneFamily) {
  Metrics m(info());
  Sources src;
  src.daemon.overruns = 2;
  src.engine.resync_requests_received = 3;
  src.channel.decode_errors[static_cast<size_t>(FrameError::kFrameTooLarge)] = 4;
  src.channel.session_errors[static_cast<size_t>(DecodeError::kBadFamily)] = 5;
  src.daemon.messages_in[2] = 6;
  m.update(src.sample());
  const std::string text = m.render();
  EXPECT_EQ(value(text, "gwsync_resyncs_total{reason=\"overrun\"}"), "2");
  EXPECT_EQ(value(text, "gwsync_resyncs_total{reason=\"peer_request\"}"), "3");
  EXPECT_EQ(value(text, "gwsync_resyncs_total{reason=\"overflow\"}"), "0");
  EXPECT_EQ(value(text, "gwsync_frame_rejections_total{reason=\"frame_too_large\"}"), "4");
  EXPECT_EQ(value(text, "gwsync_session_rejections_total{reason=\"bad_family\"}"), "5");
  EXPECT_EQ(value(text, "gwsync_messages_total{direction=\"in\",type=\"ack\"}"), "6");
}

TEST(MetricsTest, KernelWriteErrorsAreLabelledByErrnoName) {
  Metrics m(info());
  Sources src;
  m.update(src.sample());
  EXPECT_EQ(m.render().find("gwsync_kernel_write_errors_total{"), std::string::npos);
  src.daemon.kernel_write_errors[EEXIST] = 3;
  src.daemon.kernel_write_errors[ENOMEM] = 1;
  m.update(src.sample());
  src.daemon.kernel_write_errors[EEXIST] = 4;
  m.update(src.sample());
  const std::string text = m.render();
  EXPECT_EQ(value(text, "gwsync_kernel_write_errors_total{errno=\"EEXIST\"}"), "4");
  EXPECT_EQ(value(text, "gwsync_kernel_write_errors_total{errno=\"ENOMEM\"}"), "1");
}

TEST(MetricsTest, HistogramsCountObservations) {
  Metrics m(info());
  Sources src;
  m.observeReplicationLag(std::chrono::milliseconds(3));
  m.observeReplicationLag(std::chrono::milliseconds(40));
  m.update(src.sample(std::chrono::seconds(1)));
  src.sender.bulks_started = 1;
  m.update(src.sample(std::chrono::seconds(2)));  // a bulk starts...
  src.sender.bulks_completed = 1;
  m.update(src.sample(std::chrono::seconds(5)));  // ...and ends 3 s later
  const std::string text = m.render();
  EXPECT_EQ(value(text, "gwsync_replication_lag_seconds_count"), "2");
  EXPECT_EQ(value(text, "gwsync_replication_lag_seconds_bucket{le=\"0.005\"}"), "1");
  EXPECT_EQ(value(text, "gwsync_bulk_duration_seconds_count"), "1");
  EXPECT_EQ(value(text, "gwsync_bulk_duration_seconds_sum"), "3");
}

// A scrape over loopback, as Prometheus does it.
std::string httpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (fd >= 0) close(fd);
    return "";
  }
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return "";
  }
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(MetricsTest, ServesTheTextFormatOverHttp) {
  Metrics m(info());
  Sources src;
  m.update(src.sample());
  auto ep = parseEndpoint("127.0.0.1:1");
  ASSERT_TRUE(ep.ok());
  ep->port = 0;  // any free port (the config refuses 0; the exposer takes it)
  ASSERT_TRUE(m.listen(*ep).ok());
  ASSERT_GT(m.port(), 0);
  const std::string reply = httpGet(m.port(), "/metrics");
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply.substr(0, 200);
  EXPECT_NE(reply.find("Content-Type: text/plain"), std::string::npos) << reply.substr(0, 300);
  EXPECT_NE(reply.find("\ngwsync_peer_up 1\n"), std::string::npos);
}

TEST(MetricsTest, ListenFailureNamesTheKey) {
  Metrics first(info());
  auto ep = parseEndpoint("127.0.0.1:1");
  ASSERT_TRUE(ep.ok());
  ep->port = 0;
  ASSERT_TRUE(first.listen(*ep).ok());
  ep->port = static_cast<uint16_t>(first.port());
  Metrics second(info());
  const auto r = second.listen(*ep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rfind("metrics.listen = \"127.0.0.1:" + std::to_string(ep->port) + "\"", 0),
            0u)
      << r.error();
}

}  // namespace
}  // namespace gwsync::syncd
