#include "rendezvous/server_util.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rendezvous/types.h"

namespace fabric {
namespace rendezvous {

absl::Status CheckToken(const std::string& got, const std::string& token) {
  // Compare every byte so that the time taken does not reveal the matching prefix.
  unsigned diff = got.size() != token.size();
  for (size_t i = 0; i < got.size() && i < token.size(); ++i) diff |= got[i] ^ token[i];
  if (diff != 0) {
    return absl::UnauthenticatedError(
        "wrong rendezvous token: this call's token does not match the server's; give every "
        "node the same --rdzv-token / FABRIC_RDZV_TOKEN");
  }
  return absl::OkStatus();
}

CallAuthenticator::CallAuthenticator(AuthOptions options) : options_(std::move(options)) {}

absl::Status CallAuthenticator::Check(const grpc::ServerContextBase& ctx) {
  if (!enabled()) return absl::OkStatus();
  const auto& md = ctx.client_metadata();
  auto it = md.find(kTokenMetadataKey);
  if (it == md.end()) return CheckPresented(nullptr);
  const std::string got(it->second.data(), it->second.size());
  return CheckPresented(&got);
}

absl::Status CallAuthenticator::CheckPresented(const std::string* presented) {
  if (!options_.munge) {
    if (options_.token.empty()) return absl::OkStatus();
    if (presented == nullptr) {
      return absl::UnauthenticatedError(
          "the rendezvous requires a token and this call carried none; pass the server's "
          "token with --rdzv-token, FABRIC_RDZV_TOKEN or a token file");
    }
    return CheckToken(*presented, options_.token);
  }
  if (presented == nullptr || !absl::StartsWith(*presented, "MUNGE:")) {
    return absl::UnauthenticatedError(
        "the rendezvous authenticates with munge (a SLURM job with no token) and this call "
        "carried no munge credential; start every agent of the job the same way (under "
        "srun), or give all of them one --rdzv-token");
  }
  return CheckMunge(*presented);
}

absl::Status CallAuthenticator::CheckMunge(const std::string& credential) {
  absl::MutexLock lock(&mu_);
  if (verified_.contains(credential)) return absl::OkStatus();
  absl::StatusOr<MungeIdentity> id = options_.decode
                                         ? options_.decode(credential)
                                         : MungeDecode(options_.munge_socket, credential);
  if (!id.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("munge credential not accepted: ", id.status().message()));
  }
  if (id->uid != options_.uid) {
    return absl::UnauthenticatedError(absl::StrCat("munge credential of uid ", id->uid,
                                                   ", but this rendezvous serves uid ",
                                                   options_.uid, "'s job only"));
  }
  if (!options_.run_id.empty() && id->payload != options_.run_id) {
    return absl::UnauthenticatedError(absl::StrCat("munge credential made for run '", id->payload,
                                                   "', but this rendezvous serves run '",
                                                   options_.run_id, "'"));
  }
  constexpr size_t kMaxVerified = 65536;
  if (verified_.size() >= kMaxVerified) verified_.clear();
  verified_.insert(credential);
  return absl::OkStatus();
}

absl::Status CheckVersion(const fabric::v1::Header& header) {
  if (header.protocol_version() == kProtocolVersion) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("protocol version mismatch: node '", header.node_id(), "' speaks version ",
                   header.protocol_version(), " but this rendezvous server speaks version ",
                   kProtocolVersion, "; run the same fabric-run build on every node"));
}

std::string ReplayCache::Key(const fabric::v1::Header& header) {
  if (header.request_id().empty()) return "";
  return absl::StrCat(header.node_id(), "\x1f", header.request_id());
}

std::optional<ReplayCache::Entry> ReplayCache::Lookup(const std::string& key) {
  if (key.empty()) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void ReplayCache::Insert(const std::string& key, Entry entry) {
  if (key.empty()) return;
  absl::MutexLock lock(&mu_);
  if (entries_.insert_or_assign(key, std::move(entry)).second) order_.push_back(key);
  while (order_.size() > capacity_) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace rendezvous
}  // namespace fabric
