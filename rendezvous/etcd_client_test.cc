// EtcdClient against real etcd members (EtcdTestCluster): one member for the calls, three
// for fail-over and the loss of quorum.
#include "rendezvous/etcd_client.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/net.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rendezvous/etcd_test_cluster.h"

namespace fabric {
namespace rendezvous {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<EtcdClient> ClientOf(const EtcdTestCluster& c,
                                     absl::Duration timeout = absl::Seconds(1)) {
  EtcdOptions o;
  o.endpoints = c.endpoints();
  o.call_timeout = timeout;
  auto client = EtcdClient::Create(o);
  EXPECT_THAT(client, IsOk());
  return std::move(*client);
}

// Collects a watch's events.
struct Seen {
  absl::Mutex mu;
  std::vector<std::string> keys ABSL_GUARDED_BY(mu);
  absl::Status error ABSL_GUARDED_BY(mu);
  bool WaitFor(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu) { return keys.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  std::vector<std::string> Keys() {
    absl::MutexLock lock(&mu);
    return keys;
  }
};

std::unique_ptr<EtcdWatch> WatchInto(EtcdClient& c, const std::string& prefix, int64_t from,
                                     Seen* seen) {
  return c.Watch(
      prefix, from,
      [seen](const EtcdWatchBatch& b) {
        absl::MutexLock lock(&seen->mu);
        for (const EtcdEvent& e : b.events) {
          seen->keys.push_back((e.type == EtcdEvent::Type::kDelete ? "-" : "") + e.kv.key);
        }
      },
      [seen](const absl::Status& s) {
        absl::MutexLock lock(&seen->mu);
        seen->error = s;
      });
}

TEST(EtcdClientTest, PrefixEndIsTheNextKey) {
  EXPECT_EQ(PrefixEnd("/a/"), "/a0");
  EXPECT_EQ(PrefixEnd("a\xff"), "b");
  EXPECT_EQ(PrefixEnd(""), std::string(1, '\0'));
}

TEST(EtcdClientTest, BadEndpointsAreOneLine) {
  EtcdOptions o;
  EXPECT_THAT(EtcdClient::Create(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no endpoint")));
  o.endpoints = {"127.0.0.1"};
  EXPECT_THAT(EtcdClient::Create(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("'127.0.0.1' is not host:port")));
  FABRIC_ASSERT_OK_AND_ASSIGN(int port, PickFreePort());  // nothing listens there
  o.endpoints = {"127.0.0.1:" + std::to_string(port)};
  o.call_timeout = absl::Milliseconds(300);
  FABRIC_ASSERT_OK_AND_ASSIGN(auto c, EtcdClient::Create(o));
  const absl::Time start = absl::Now();
  EXPECT_THAT(c->Put("/k", "v"), StatusIs(absl::StatusCode::kUnavailable,
                                          HasSubstr("127.0.0.1:" + std::to_string(port))));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));  // bounded by the call timeout
}

TEST(EtcdClientTest, KeysRangesAndCompareAndSwap) {
  FABRIC_ASSERT_OK_AND_ASSIGN(auto cluster, EtcdTestCluster::Start(1));
  auto c = ClientOf(*cluster);
  FABRIC_ASSERT_OK_AND_ASSIGN(int64_t rev, c->Put("/job/b", "2"));
  EXPECT_GT(rev, 0);
  ASSERT_THAT(c->Put("/job/a", "1"), IsOk());
  ASSERT_THAT(c->Put("/other", "x"), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(EtcdClient::Range r, c->GetPrefix("/job/"));
  ASSERT_EQ(r.kvs.size(), 2u);
  EXPECT_EQ(r.kvs[0].key, "/job/a");
  EXPECT_EQ(r.kvs[1].value, "2");
  EXPECT_GE(r.revision, rev + 2);
  FABRIC_ASSERT_OK_AND_ASSIGN(std::optional<EtcdKv> none, c->Get("/job/none"));
  EXPECT_FALSE(none.has_value());
  // Create-if-absent once; then swap only against the current mod_revision.
  FABRIC_ASSERT_OK_AND_ASSIGN(bool won, c->PutIf("/job/round", "1", 0));
  EXPECT_TRUE(won);
  FABRIC_ASSERT_OK_AND_ASSIGN(won, c->PutIf("/job/round", "1bis", 0));
  EXPECT_FALSE(won);  // it exists now
  FABRIC_ASSERT_OK_AND_ASSIGN(std::optional<EtcdKv> round, c->Get("/job/round"));
  ASSERT_TRUE(round.has_value());
  FABRIC_ASSERT_OK_AND_ASSIGN(won, c->PutIf("/job/round", "2", round->mod_revision - 1));
  EXPECT_FALSE(won);  // a stale revision loses
  FABRIC_ASSERT_OK_AND_ASSIGN(won, c->PutIf("/job/round", "2", round->mod_revision));
  EXPECT_TRUE(won);
  FABRIC_ASSERT_OK_AND_ASSIGN(round, c->Get("/job/round"));
  EXPECT_EQ(round->value, "2");
  FABRIC_ASSERT_OK_AND_ASSIGN(int64_t deleted, c->DeletePrefix("/job/"));
  EXPECT_EQ(deleted, 3);
  FABRIC_ASSERT_OK_AND_ASSIGN(r, c->GetPrefix("/job/"));
  EXPECT_TRUE(r.kvs.empty());
}

// etcd's election recipe, as the etcd control plane uses it: the key created just before
// one's own, and a watch on that one key alone (not on keys it is a prefix of).
TEST(EtcdClientTest, TheKeyCreatedBeforeAndAWatchOnOneKey) {
  FABRIC_ASSERT_OK_AND_ASSIGN(auto cluster, EtcdTestCluster::Start(1));
  auto c = ClientOf(*cluster);
  // Created in the order b, a, c (keys sort otherwise); "b" rewritten keeps its creation.
  ASSERT_THAT(c->Put("/run/node/h:1", "b"), IsOk());
  ASSERT_THAT(c->Put("/run/node/h:0", "a"), IsOk());
  ASSERT_THAT(c->Put("/run/node/h:12", "c"), IsOk());
  ASSERT_THAT(c->Put("/run/node/h:1", "b2"), IsOk());
  ASSERT_THAT(c->Put("/run/round", "r"), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(std::optional<EtcdKv> third, c->Get("/run/node/h:12"));
  ASSERT_TRUE(third.has_value());
  FABRIC_ASSERT_OK_AND_ASSIGN(EtcdClient::Last before,
                              c->LastCreatedBefore("/run/node/", third->create_revision));
  ASSERT_TRUE(before.kv.has_value());
  EXPECT_EQ(before.kv->key, "/run/node/h:0");
  FABRIC_ASSERT_OK_AND_ASSIGN(before,
                              c->LastCreatedBefore("/run/node/", before.kv->create_revision));
  ASSERT_TRUE(before.kv.has_value());
  EXPECT_EQ(before.kv->key, "/run/node/h:1");
  EXPECT_EQ(before.kv->value, "b2");
  FABRIC_ASSERT_OK_AND_ASSIGN(before,
                              c->LastCreatedBefore("/run/node/", before.kv->create_revision));
  EXPECT_FALSE(before.kv.has_value());  // the oldest
  EXPECT_GT(before.revision, third->create_revision);
  // A range from `round` on leaves the node keys out.
  FABRIC_ASSERT_OK_AND_ASSIGN(EtcdClient::Range from_round,
                              c->GetRange("/run/round", PrefixEnd("/run/")));
  ASSERT_EQ(from_round.kvs.size(), 1u);
  EXPECT_EQ(from_round.kvs[0].value, "r");
  // A watch on "/run/node/h:1" alone: "h:12" (which it is a prefix of) is not its.
  Seen seen;
  auto w = c->WatchRange(
      "/run/node/h:1", "", before.revision + 1,
      [&seen](const EtcdWatchBatch& b) {
        absl::MutexLock lock(&seen.mu);
        for (const EtcdEvent& e : b.events) {
          seen.keys.push_back((e.type == EtcdEvent::Type::kDelete ? "-" : "") + e.kv.key);
        }
      },
      [](const absl::Status&) {});
  ASSERT_THAT(c->DeletePrefix("/run/node/h:12"), IsOk());
  ASSERT_THAT(c->DeletePrefix("/run/node/h:1"), IsOk());  // h:1 (h:12 is gone already)
  ASSERT_TRUE(seen.WaitFor(1, absl::Seconds(5)));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_THAT(seen.Keys(), ElementsAre("-/run/node/h:1"));
}

TEST(EtcdClientTest, ALeaseKeptAliveHoldsItsKeyAndItsExpiryDeletesIt) {
  FABRIC_ASSERT_OK_AND_ASSIGN(auto cluster, EtcdTestCluster::Start(1));
  auto c = ClientOf(*cluster);
  FABRIC_ASSERT_OK_AND_ASSIGN(int64_t lease, c->GrantLease(absl::Seconds(1)));
  ASSERT_THAT(c->Put("/live/node0", "up", lease), IsOk());
  for (int i = 0; i < 8; ++i) {  // 2.4 s, beyond the TTL
    FABRIC_ASSERT_OK_AND_ASSIGN(absl::Duration ttl, c->KeepAliveOnce(lease));
    EXPECT_GT(ttl, absl::ZeroDuration());
    absl::SleepFor(absl::Milliseconds(300));
  }
  FABRIC_ASSERT_OK_AND_ASSIGN(std::optional<EtcdKv> kv, c->Get("/live/node0"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->lease, lease);
  // No more keep-alives: the key goes within the TTL (and etcd's expiry check).
  const absl::Time stop = absl::Now();
  while (kv.has_value() && absl::Now() - stop < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(100));
    FABRIC_ASSERT_OK_AND_ASSIGN(kv, c->Get("/live/node0"));
  }
  EXPECT_FALSE(kv.has_value());
  EXPECT_LT(absl::Now() - stop, absl::Seconds(4));
  EXPECT_THAT(c->KeepAliveOnce(lease), StatusIs(absl::StatusCode::kNotFound, HasSubstr("expired")));
  // Revoke removes at once.
  FABRIC_ASSERT_OK_AND_ASSIGN(lease, c->GrantLease(absl::Seconds(30)));
  ASSERT_THAT(c->Put("/live/node1", "up", lease), IsOk());
  ASSERT_THAT(c->RevokeLease(lease), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(kv, c->Get("/live/node1"));
  EXPECT_FALSE(kv.has_value());
}

TEST(EtcdClientTest, AWatchDeliversFromARevisionInOrderAndThenLive) {
  FABRIC_ASSERT_OK_AND_ASSIGN(auto cluster, EtcdTestCluster::Start(1));
  auto c = ClientOf(*cluster);
  FABRIC_ASSERT_OK_AND_ASSIGN(int64_t first, c->Put("/w/a", "1"));
  ASSERT_THAT(c->Put("/w/b", "1"), IsOk());
  ASSERT_THAT(c->Put("/not-watched", "1"), IsOk());
  Seen seen;
  auto watch = WatchInto(*c, "/w/", first, &seen);
  ASSERT_TRUE(seen.WaitFor(2, absl::Seconds(10)));
  ASSERT_THAT(c->Put("/w/c", "1"), IsOk());
  ASSERT_THAT(c->DeletePrefix("/w/a"), IsOk());
  ASSERT_TRUE(seen.WaitFor(4, absl::Seconds(10)));
  EXPECT_THAT(seen.Keys(), ElementsAre("/w/a", "/w/b", "/w/c", "-/w/a"));
}

TEST(EtcdClientTest, ThreeMembersSurviveOneAndFailBoundedWithoutQuorum) {
  FABRIC_ASSERT_OK_AND_ASSIGN(auto cluster, EtcdTestCluster::Start(3));
  auto c = ClientOf(*cluster);
  ASSERT_THAT(c->Put("/q/0", "x"), IsOk());
  Seen seen;
  auto watch = WatchInto(*c, "/q/", 1, &seen);
  ASSERT_TRUE(seen.WaitFor(1, absl::Seconds(10)));
  // The member in use (and the watch's) dies: the calls and the watch go on elsewhere.
  const std::string used = c->endpoint();
  int victim = 0;
  for (int i = 0; i < 3; ++i) {
    if (cluster->endpoints()[i] == used) victim = i;
  }
  cluster->Kill(victim);
  for (int i = 1; i <= 5; ++i) {
    absl::StatusOr<int64_t> put = c->Put("/q/" + std::to_string(i), "x");
    for (int retry = 0; !put.ok() && retry < 20; ++retry) {  // a leader election may run
      absl::SleepFor(absl::Milliseconds(200));
      put = c->Put("/q/" + std::to_string(i), "x");
    }
    ASSERT_THAT(put, IsOk());
  }
  EXPECT_NE(c->endpoint(), used);
  ASSERT_TRUE(seen.WaitFor(6, absl::Seconds(15)));
  EXPECT_THAT(seen.Keys(), ElementsAre("/q/0", "/q/1", "/q/2", "/q/3", "/q/4", "/q/5"));
  // A second member dies: no quorum. Every call fails, bounded, naming the members.
  cluster->Kill((victim + 1) % 3);
  const absl::Time start = absl::Now();
  absl::StatusOr<int64_t> put = c->Put("/q/6", "x");
  EXPECT_THAT(put, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("no member answered")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3 * 1 + 2));
  // Quorum back: the calls work again, and the watch has not given up.
  ASSERT_THAT(cluster->Restart(victim), IsOk());
  absl::StatusOr<int64_t> again = c->Put("/q/7", "x");
  for (int retry = 0; !again.ok() && retry < 50; ++retry) {
    absl::SleepFor(absl::Milliseconds(200));
    again = c->Put("/q/7", "x");
  }
  ASSERT_THAT(again, IsOk());
  // The put that timed out without quorum may still have been proposed, and then commits
  // once quorum is back (an etcd property: UNAVAILABLE is "unknown", not "not done"), so
  // /q/6 may come before /q/7; nothing else may.
  ASSERT_TRUE(seen.WaitFor(7, absl::Seconds(15)));
  absl::SleepFor(absl::Milliseconds(500));
  std::vector<std::string> keys = seen.Keys();
  if (keys.size() == 8) EXPECT_EQ(keys[6], "/q/6");
  EXPECT_EQ(keys.back(), "/q/7");
  EXPECT_LE(keys.size(), 8u);
}

}  // namespace
}  // namespace rendezvous
}  // namespace fabric
