#include "syncd/kernel/ct_dump.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "syncd/kernel/netlink_socket.h"

namespace gwsync::syncd {

namespace {

struct DumpState {
  const std::function<void(Session&&)>* fn;
  ParseStats* stats;
  DumpSummary summary;
  bool interrupted = false;
};

int onEntry(const nlmsghdr* nlh, void* data) {
  auto* st = static_cast<DumpState*>(data);
  if ((nlh->nlmsg_flags & NLM_F_DUMP_INTR) != 0) st->interrupted = true;
  auto s = parseConntrack(nlh, *st->stats);
  if (!s) {
    ++st->summary.rejected;
    return MNL_CB_OK;
  }
  ++st->summary.entries;
  (*st->fn)(std::move(*s));
  return MNL_CB_OK;
}

// Sends one request and runs the callback over the replies until the kernel says done.
Result<Ok, std::string> request(uint8_t msg, uint16_t flags, mnl_cb_t cb, void* data) {
  auto sock = NetlinkSocket::open(0);
  if (!sock) return fail(sock.error());
  (void)sock->setReceiveBuffer(16 * 1024 * 1024, true);  // fewer, fuller reads; best effort

  std::vector<uint8_t> buf(1 << 20);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  const uint32_t seq = 1;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_UNSPEC;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  if (mnl_socket_sendto(sock->get(), nlh, nlh->nlmsg_len) < 0) {
    return fail(std::string("ctnetlink request: ") + std::strerror(errno));
  }
  const uint32_t portid = sock->portId();
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(sock->get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(std::string("ctnetlink reply: ") + std::strerror(errno));
    }
    const int r = mnl_cb_run(buf.data(), n, seq, portid, cb, data);
    if (r == MNL_CB_STOP) return Ok{};
    if (r < 0) return fail(std::string("ctnetlink reply: ") + std::strerror(errno));
  }
}

}  // namespace

Result<DumpSummary, std::string> dumpConntrack(const std::function<void(Session&&)>& fn,
                                               ParseStats& stats) {
  DumpState st{&fn, &stats, {}, false};
  if (auto r = request(IPCTNL_MSG_CT_GET, NLM_F_DUMP, onEntry, &st); !r) {
    return fail("conntrack dump: " + r.error());
  }
  if (st.interrupted) return fail(std::string("conntrack dump: interrupted, dump again"));
  return st.summary;
}

Result<Ok, std::string> flushConntrack() {
  if (auto r = request(IPCTNL_MSG_CT_DELETE, NLM_F_ACK, nullptr, nullptr); !r) {
    return fail("conntrack flush: " + r.error());
  }
  return Ok{};
}

}  // namespace gwsync::syncd
