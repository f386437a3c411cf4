#include "slurm/hostlist.h"

#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::slurm {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Hosts = std::vector<std::string>;

MATCHER_P(IsOkAndHolds, expected, "is OK and holds the expected value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(::testing::Eq(expected), *arg, result_listener);
}

struct ExpandCase {
  const char* input;
  Hosts expected;
};

class ExpandTest : public ::testing::TestWithParam<ExpandCase> {};

TEST_P(ExpandTest, ExpandsToExpectedHostsAndRoundTrips) {
  const ExpandCase& c = GetParam();
  FABRIC_ASSERT_OK_AND_ASSIGN(Hosts hosts, ExpandHostlist(c.input));
  EXPECT_EQ(hosts, c.expected) << c.input;
  // Round trip: compressing and expanding again gives the same list.
  FABRIC_ASSERT_OK_AND_ASSIGN(std::string compressed, CompressHostlist(hosts));
  FABRIC_ASSERT_OK_AND_ASSIGN(Hosts again, ExpandHostlist(compressed));
  EXPECT_EQ(again, hosts) << c.input << " -> " << compressed;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ExpandTest,
    ::testing::Values(
        ExpandCase{"", {}}, ExpandCase{"   ", {}}, ExpandCase{"node1", {"node1"}},
        ExpandCase{"localhost", {"localhost"}}, ExpandCase{"n[1-3]", {"n1", "n2", "n3"}},
        ExpandCase{"node[01-04]", {"node01", "node02", "node03", "node04"}},
        ExpandCase{"node[8-11]", {"node8", "node9", "node10", "node11"}},
        ExpandCase{"node[08-11]", {"node08", "node09", "node10", "node11"}},
        ExpandCase{"node[098-101]", {"node098", "node099", "node100", "node101"}},
        ExpandCase{"node[01-03,07,10-11]",
                   {"node01", "node02", "node03", "node07", "node10", "node11"}},
        ExpandCase{"node[7]", {"node7"}}, ExpandCase{"node[007]", {"node007"}},
        ExpandCase{"node[3,1,2]", {"node3", "node1", "node2"}}, ExpandCase{"node[1-1]", {"node1"}},
        ExpandCase{"node[0]", {"node0"}},
        ExpandCase{"node[1,01,001]", {"node1", "node01", "node001"}},
        ExpandCase{"rack[1-2]-node[01-04]",
                   {"rack1-node01", "rack1-node02", "rack1-node03", "rack1-node04", "rack2-node01",
                    "rack2-node02", "rack2-node03", "rack2-node04"}},
        ExpandCase{
            "r[1-2]c[1-2]n[1-2]",
            {"r1c1n1", "r1c1n2", "r1c2n1", "r1c2n2", "r2c1n1", "r2c1n2", "r2c2n1", "r2c2n2"}},
        ExpandCase{"gpu[1-2].cluster", {"gpu1.cluster", "gpu2.cluster"}},
        ExpandCase{"[1-3]", {"1", "2", "3"}}, ExpandCase{"a[1-2]b", {"a1b", "a2b"}},
        ExpandCase{"node-[1-2]-ib", {"node-1-ib", "node-2-ib"}},
        ExpandCase{"node1,node2", {"node1", "node2"}},
        ExpandCase{"node1 node2", {"node1", "node2"}},
        ExpandCase{"node1, node2", {"node1", "node2"}}, ExpandCase{" node1 ", {"node1"}},
        ExpandCase{"n[1-2],m[5,7]", {"n1", "n2", "m5", "m7"}},
        ExpandCase{"login1,node[1-2],gpu[01-02]", {"login1", "node1", "node2", "gpu01", "gpu02"}},
        ExpandCase{"a[1,3],b[2-3],c", {"a1", "a3", "b2", "b3", "c"}},
        ExpandCase{"n1,n1", {"n1", "n1"}},
        ExpandCase{"10.0.0.[1-3]", {"10.0.0.1", "10.0.0.2", "10.0.0.3"}},
        ExpandCase{"n[9-10]", {"n9", "n10"}}, ExpandCase{"n[99-101]", {"n99", "n100", "n101"}},
        ExpandCase{"n[0-2]x", {"n0x", "n1x", "n2x"}},
        ExpandCase{"node-a,node-b", {"node-a", "node-b"}},
        ExpandCase{"host[1-2][3-4]", {"host13", "host14", "host23", "host24"}},
        ExpandCase{"rack[1-2]-node[01-02],login",
                   {"rack1-node01", "rack1-node02", "rack2-node01", "rack2-node02", "login"}},
        ExpandCase{"n[000001-000003]", {"n000001", "n000002", "n000003"}},
        ExpandCase{"n[5-6],n[1-2]", {"n5", "n6", "n1", "n2"}}));

struct ErrorCase {
  const char* input;
  const char* problem;  // substring of the message
};

class ExpandErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ExpandErrorTest, ReturnsInvalidArgumentNamingInputAndProblem) {
  const ErrorCase& c = GetParam();
  absl::StatusOr<Hosts> result = ExpandHostlist(c.input);
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument,
                               ::testing::AllOf(HasSubstr(c.problem),
                                                HasSubstr(std::string("\"") + c.input + "\""),
                                                HasSubstr("position"))))
      << c.input;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ExpandErrorTest,
    ::testing::Values(ErrorCase{"node[1-3", "'[' is never closed at position 4"},
                      ErrorCase{"node1-3]", "unmatched ']' at position 7"},
                      ErrorCase{"node[]", "empty brackets at position 5"},
                      ErrorCase{"node[3-1]", "range 3-1 goes backwards at position 5"},
                      ErrorCase{"node[a-b]", "expected a number at position 5"},
                      ErrorCase{"node[1-]", "expected a number at position 7"},
                      ErrorCase{"node[-3]", "expected a number at position 5"},
                      ErrorCase{"node[1,]", "expected a number at position 7"},
                      ErrorCase{"node[,1]", "expected a number at position 5"},
                      ErrorCase{"node[1-2-3]", "unexpected '-' in brackets at position 8"},
                      ErrorCase{"node[1[2]]", "nested '[' at position 6"},
                      ErrorCase{"node[1 2]", "unexpected ' ' in brackets"},
                      ErrorCase{",node1", "empty host name before ',' at position 0"},
                      ErrorCase{"node1,,node2", "empty host name before ',' at position 6"},
                      ErrorCase{"node1,", "empty host name after ',' at position 5"},
                      ErrorCase{"n[0-99999999]", "more than 1048576 hosts"},
                      ErrorCase{"n[0-1023]m[0-1023]x[0-1]", "more than 1048576 hosts"},
                      ErrorCase{"n[1234567890123456789]", "number too long"},
                      ErrorCase{"a,b[1-2,c", "'[' is never closed at position 3"},
                      ErrorCase{"]", "unmatched ']' at position 0"}));

TEST(CompressHostlistTest, MergesConsecutiveNumbersIntoRanges) {
  EXPECT_THAT(CompressHostlist({"n1", "n2", "n3", "n5", "n7", "n8"}),
              IsOkAndHolds(std::string("n[1-3,5,7-8]")));
}

TEST(CompressHostlistTest, KeepsZeroPadding) {
  EXPECT_THAT(CompressHostlist({"node01", "node02", "node03", "node04"}),
              IsOkAndHolds(std::string("node[01-04]")));
  EXPECT_THAT(CompressHostlist({"node09", "node10"}), IsOkAndHolds(std::string("node[09-10]")));
}

TEST(CompressHostlistTest, DoesNotMergeDifferentWidths) {
  EXPECT_THAT(CompressHostlist({"n1", "n01"}), IsOkAndHolds(std::string("n[1,01]")));
}

TEST(CompressHostlistTest, GroupsOnLastNumberWithPrefixAndSuffix) {
  EXPECT_THAT(CompressHostlist(
                  {"rack1-node01", "rack1-node02", "rack2-node01", "gpu1.ib", "gpu2.ib", "login"}),
              IsOkAndHolds(std::string("rack1-node[01-02],rack2-node01,gpu[1-2].ib,login")));
}

TEST(CompressHostlistTest, SingleHostStaysPlain) {
  EXPECT_THAT(CompressHostlist({"node7"}), IsOkAndHolds(std::string("node7")));
  EXPECT_THAT(CompressHostlist({}), IsOkAndHolds(std::string("")));
}

TEST(CompressHostlistTest, RejectsNamesThatCannotBeExpressed) {
  EXPECT_THAT(CompressHostlist({"ok", "bad,name"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("host 1 \"bad,name\"")));
  EXPECT_THAT(CompressHostlist({"n[1]"}), StatusIs(absl::StatusCode::kInvalidArgument, _));
  EXPECT_THAT(CompressHostlist({""}), StatusIs(absl::StatusCode::kInvalidArgument, _));
}

TEST(CompressHostlistTest, RoundTripsAwkwardLists) {
  const std::vector<Hosts> lists = {
      {"n9", "n10", "n11", "n011", "n12"},
      {"a1b", "a2b", "a2c", "a3c"},
      {"x", "x", "x1", "x1"},
      {"n3", "n2", "n1"},
      {"h000", "h001", "h1000"},
      {"10.0.0.1", "10.0.0.2", "10.0.1.1"},
  };
  for (const Hosts& hosts : lists) {
    FABRIC_ASSERT_OK_AND_ASSIGN(std::string compressed, CompressHostlist(hosts));
    EXPECT_THAT(ExpandHostlist(compressed), IsOkAndHolds(hosts)) << compressed;
  }
}

struct TasksCase {
  const char* input;
  std::vector<int> expected;
  const char* canonical;
};

class TasksPerNodeTest : public ::testing::TestWithParam<TasksCase> {};

TEST_P(TasksPerNodeTest, DecodesAndEncodes) {
  const TasksCase& c = GetParam();
  FABRIC_ASSERT_OK_AND_ASSIGN(std::vector<int> counts, DecodeTasksPerNode(c.input));
  EXPECT_EQ(counts, c.expected) << c.input;
  EXPECT_EQ(EncodeTasksPerNode(counts), c.canonical);
}

INSTANTIATE_TEST_SUITE_P(
    Table, TasksPerNodeTest,
    ::testing::Values(
        TasksCase{"1", {1}, "1"}, TasksCase{"4", {4}, "4"}, TasksCase{"2(x3)", {2, 2, 2}, "2(x3)"},
        TasksCase{"2(x3),1", {2, 2, 2, 1}, "2(x3),1"}, TasksCase{"4,1(x2)", {4, 1, 1}, "4,1(x2)"},
        TasksCase{"1,2,3", {1, 2, 3}, "1,2,3"}, TasksCase{"2,2", {2, 2}, "2(x2)"},
        TasksCase{"8(x1)", {8}, "8"}, TasksCase{"16(x2),8(x2)", {16, 16, 8, 8}, "16(x2),8(x2)"}));

class TasksPerNodeErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(TasksPerNodeErrorTest, ReturnsInvalidArgument) {
  const ErrorCase& c = GetParam();
  EXPECT_THAT(DecodeTasksPerNode(c.input),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr(c.problem),
                                        HasSubstr(std::string("\"") + c.input + "\""))));
}

INSTANTIATE_TEST_SUITE_P(
    Table, TasksPerNodeErrorTest,
    ::testing::Values(ErrorCase{"", "empty value at position 0"},
                      ErrorCase{"x", "expected a task count at position 0"},
                      ErrorCase{"0", "task count must be at least 1"},
                      ErrorCase{"2(x0)", "repeat count must be at least 1 at position 3"},
                      ErrorCase{"2(3)", "expected \"(x\" at position 1"},
                      ErrorCase{"2(x3", "expected ')' at position 4"},
                      ErrorCase{"2(x)", "expected a repeat count at position 3"},
                      ErrorCase{"2,", "expected a task count at position 2"},
                      ErrorCase{",2", "expected a task count at position 0"},
                      ErrorCase{"2;3", "unexpected ';' at position 1"},
                      ErrorCase{"2 (x3)", "unexpected ' ' at position 1"},
                      ErrorCase{"1(x9999999)", "more than 1048576 nodes"},
                      ErrorCase{"99999999999", "expected a task count"}));

TEST(EncodeTasksPerNodeTest, EmptyIsEmpty) { EXPECT_THAT(EncodeTasksPerNode({}), IsEmpty()); }

}  // namespace
}  // namespace fabric::slurm
