#include "netstats.h"

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "errno_error.h"

namespace nsvirt {
namespace {

constexpr size_t kRecvSize = 32768;

// A failed step: errno and the call (or netlink request) that failed.
struct Failure {
  int err = 0;
  const char* syscall = "";
};

Failure Fail(const char* syscall, int err = errno) { return Failure{err, syscall}; }

// Owns a NETLINK_ROUTE socket of the calling thread's network namespace.
class RouteSocket {
 public:
  RouteSocket() : fd_(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {}
  RouteSocket(const RouteSocket&) = delete;
  RouteSocket& operator=(const RouteSocket&) = delete;
  ~RouteSocket() {
    // The descriptor is released whatever close() says; nobody is left to tell.
    if (fd_ >= 0) (void)close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// RTM_GETLINK for one link, selected by IFLA_IFNAME.
struct GetLinkRequest {
  nlmsghdr header;
  ifinfomsg info;
  char attrs[RTA_SPACE(IFNAMSIZ)];
};

Failure SendGetLink(int fd, const std::string& name) {
  GetLinkRequest req;
  std::memset(&req, 0, sizeof(req));
  rtattr* attr = reinterpret_cast<rtattr*>(req.attrs);
  attr->rta_type = IFLA_IFNAME;
  attr->rta_len = static_cast<unsigned short>(RTA_LENGTH(name.size() + 1));
  std::memcpy(RTA_DATA(attr), name.c_str(), name.size() + 1);
  req.header.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(sizeof(req.info)) + RTA_SPACE(name.size() + 1));
  req.header.nlmsg_type = RTM_GETLINK;
  req.header.nlmsg_flags = NLM_F_REQUEST;
  req.header.nlmsg_seq = 1;
  req.info.ifi_family = AF_UNSPEC;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    const ssize_t n = sendto(fd, &req, req.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
    if (n == static_cast<ssize_t>(req.header.nlmsg_len)) return Failure{};
    if (n >= 0) return Fail("sendto", EIO);
    if (errno != EINTR) return Fail("sendto");
  }
}

// One datagram; a truncated one is EMSGSIZE.
Failure Receive(int fd, void* buf, size_t size, size_t* got) {
  iovec iov{buf, size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  for (;;) {
    const ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail("recvmsg");
    if (msg.msg_flags & MSG_TRUNC) return Fail("recvmsg", EMSGSIZE);
    *got = static_cast<size_t>(n);
    return Failure{};
  }
}

// The IFLA_STATS64 attribute of an RTM_NEWLINK answer.
Failure ParseStats(const nlmsghdr* h, rtnl_link_stats64* out) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return Fail("RTM_GETLINK", EPROTO);
  int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(ifinfomsg)));
  const ifinfomsg* info = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
  for (const rtattr* a = IFLA_RTA(info); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type != IFLA_STATS64) continue;
    // Older kernels may send a shorter struct: what is missing stays zero.
    std::memset(out, 0, sizeof(*out));
    const size_t n = RTA_PAYLOAD(a) < sizeof(*out) ? RTA_PAYLOAD(a) : sizeof(*out);
    std::memcpy(out, RTA_DATA(a), n);
    return Failure{};
  }
  return Fail("RTM_GETLINK", ENODATA);
}

// The kernel's answer: RTM_NEWLINK with the counters, or NLMSG_ERROR.
Failure ReadAnswer(int fd, rtnl_link_stats64* out) {
  std::vector<char> buf(kRecvSize);  // heap memory: aligned for nlmsghdr
  for (;;) {
    size_t got = 0;
    Failure f = Receive(fd, buf.data(), buf.size(), &got);
    if (f.err != 0) return f;
    int len = static_cast<int>(got);
    for (const nlmsghdr* h = reinterpret_cast<const nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != 1) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return Fail("RTM_GETLINK", EPROTO);
        const int err = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
        return Fail("RTM_GETLINK", err != 0 ? err : EPROTO);  // no data and no error: not an answer
      }
      if (h->nlmsg_type == RTM_NEWLINK) return ParseStats(h, out);
    }
  }
}

Failure QueryStats(const std::string& name, rtnl_link_stats64* out) {
  RouteSocket sock;
  if (sock.get() < 0) return Fail("socket");
  Failure f = SendGetLink(sock.get(), name);
  if (f.err != 0) return f;
  return ReadAnswer(sock.get(), out);
}

void ThrowFailure(Napi::Env env, const Failure& f, const std::string& name) {
  Napi::Error error = ErrnoError(env, f.err, f.syscall);
  error.Value().Set("message", Napi::String::New(env, error.Message() + " '" + name + "'"));
  error.Value().Set("ifname", Napi::String::New(env, name));
  error.ThrowAsJavaScriptException();
}

// linkStats(ifname): { rxBytes, rxPackets, rxErrors, rxDrops, txBytes, txPackets, txErrors, txDrops } as bigints.
Napi::Value LinkStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "ifname must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.size() >= IFNAMSIZ || name.find('\0') != std::string::npos) {
    ThrowFailure(env, Failure{EINVAL, "RTM_GETLINK"}, name);
    return env.Undefined();
  }
  rtnl_link_stats64 stats{};
  const Failure f = QueryStats(name, &stats);
  if (f.err != 0) {
    ThrowFailure(env, f, name);
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("rxBytes", Napi::BigInt::New(env, static_cast<uint64_t>(stats.rx_bytes)));
  result.Set("rxPackets", Napi::BigInt::New(env, static_cast<uint64_t>(stats.rx_packets)));
  result.Set("rxErrors", Napi::BigInt::New(env, static_cast<uint64_t>(stats.rx_errors)));
  result.Set("rxDrops", Napi::BigInt::New(env, static_cast<uint64_t>(stats.rx_dropped)));
  result.Set("txBytes", Napi::BigInt::New(env, static_cast<uint64_t>(stats.tx_bytes)));
  result.Set("txPackets", Napi::BigInt::New(env, static_cast<uint64_t>(stats.tx_packets)));
  result.Set("txErrors", Napi::BigInt::New(env, static_cast<uint64_t>(stats.tx_errors)));
  result.Set("txDrops", Napi::BigInt::New(env, static_cast<uint64_t>(stats.tx_dropped)));
  return result;
}

}  // namespace

void RegisterNetStatsFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("linkStats", Napi::Function::New(env, LinkStats, "linkStats"));
}

}  // namespace nsvirt
