// Endpoints (HOST:PORT) and the questions an agent asks about them before the
// rendezvous: is HOST this machine, which of this machine's addresses faces it, and
// when does HOST:PORT accept connections. Blocking calls (DNS, connect); no state.
#ifndef FABRIC_COMMON_ENDPOINT_H_
#define FABRIC_COMMON_ENDPOINT_H_

#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fabric {

// Splits "host:port" / "[v6]:port" (brackets removed). False when either part is empty.
bool SplitHostPort(const std::string& endpoint, std::string* host, std::string* port);

// 0.0.0.0 or ::.
bool IsWildcard(const std::string& host);

// True when `host` names this machine, as torchrun's c10d rendezvous decides which
// agent hosts the store: "localhost", a loopback address, this machine's host name
// (or its first label, or `host`'s first label equals the host name: job-0.svc vs
// job-0), or a name or address that resolves to an address of one of this machine's
// interfaces. Needs no DNS for the name cases, so a pod whose own name does not
// resolve yet still recognizes itself.
bool IsThisHost(const std::string& host);

// True when `host` is "localhost" or resolves only to loopback addresses (127/8, ::1):
// a server bound there cannot be reached from another machine. A name that does not
// resolve, and the wildcard, are not loopback.
bool IsLoopbackHost(const std::string& host);

// True when getaddrinfo resolves `host` now.
bool Resolves(const std::string& host);

// The local address this host uses to reach host:port (a connected UDP socket sends
// nothing); the host name when that fails.
std::string LocalAddressToward(const std::string& host, const std::string& port);

// Why the last attempt of WaitForListener failed, for progress lines.
using WaitProgress = std::function<void(absl::string_view why, absl::Duration waited)>;

// True once a TCP connection to host:port succeeds, trying with backoff (5 ms up to
// 200 ms) until `deadline`: the name may not resolve yet (a Kubernetes pod's DNS record
// appears after the pod starts), or nothing listens yet. `progress`, when set, is called
// on a WaitSchedule (common/wait_schedule.h: after 2 s of failing, then 4, 8, 16 ... s,
// gaps capped at 60 s) with the reason ("HOST does not resolve: ...", "connection
// refused").
bool WaitForListener(const std::string& host, const std::string& port, absl::Time deadline,
                     const WaitProgress& progress = nullptr);

}  // namespace fabric

#endif  // FABRIC_COMMON_ENDPOINT_H_
