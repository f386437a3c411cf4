#include "common/worker_control.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ShrinkTest, RoundTripsAndIsVersioned) {
  for (ShrinkCommand c : {ShrinkCommand{1, 0}, ShrinkCommand{3, 2}, ShrinkCommand{4096, 17}}) {
    const std::string line = EncodeShrink(c);
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.rfind("v1 shrink ", 0), 0u) << line;
    FABRIC_ASSERT_OK_AND_ASSIGN(ShrinkCommand back, DecodeShrink(line.substr(0, line.size() - 1)));
    EXPECT_EQ(back, c);
  }
}

TEST(ShrinkTest, AcceptsTheUnversionedLineOfEarlierReleases) {
  FABRIC_ASSERT_OK_AND_ASSIGN(ShrinkCommand c, DecodeShrink("shrink 3 1"));
  EXPECT_EQ(c, (ShrinkCommand{3, 1}));
}

TEST(ShrinkTest, RefusesANewerVersionSayingWhatToDo) {
  absl::StatusOr<ShrinkCommand> c = DecodeShrink("v2 shrink 3 1");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("same fabric-run release"));
}

TEST(ShrinkTest, RefusesMalformedAndOutOfRangeLines) {
  for (const char* bad : {"", "shrink", "shrink 3", "shrink 3 1 2", "grow 3 1", "shrink x 1",
                          "shrink 3 3", "shrink 0 0", "shrink 3 -1", "shrink +3 1", "v shrink 3 1",
                          "v0 shrink 3 1", "vx shrink 3 1", "v1", "v1 shrink  3 1"}) {
    EXPECT_FALSE(DecodeShrink(bad).ok()) << "'" << bad << "'";
  }
}

TEST(ControlLineReaderTest, JoinsPiecesAndSplitsLines) {
  ControlLineReader r;
  r.Append("v1 shr");
  EXPECT_EQ(r.Next(), std::nullopt);
  r.Append("ink 3 1\nv1 shrink 2 0\nv1 sh");
  EXPECT_EQ(r.Next(), "v1 shrink 3 1");
  EXPECT_EQ(r.Next(), "v1 shrink 2 0");
  EXPECT_EQ(r.Next(), std::nullopt);
  r.Append("rink 1 0\n");
  EXPECT_EQ(r.Next(), "v1 shrink 1 0");
}

TEST(ControlLineReaderTest, DropsAnOverLongLineWholeAndKeepsTheNext) {
  ControlLineReader r;
  r.Append("shrink 2 0\n");
  r.Append(std::string(ControlLineReader::kMaxLine + 1, 'x'));
  r.Append(std::string(10 * ControlLineReader::kMaxLine, 'y'));  // still the same line
  r.Append("tail\nshrink 1 0\n");
  EXPECT_EQ(r.Next(), "shrink 2 0");
  EXPECT_EQ(r.Next(), "shrink 1 0");
  EXPECT_EQ(r.Next(), std::nullopt);
}

TEST(SpareAssignmentTest, RoundTripsWithoutTheVersionEntry) {
  const std::vector<std::string> env = {"RANK=3", "EMPTY=", "X=a=b", "PATH=/bin"};
  const std::string msg = EncodeSpareAssignment(env);
  EXPECT_EQ(msg.rfind("FABRIC_WORKER_CONTROL_VERSION=1", 0), 0u);
  FABRIC_ASSERT_OK_AND_ASSIGN(std::vector<std::string> back, DecodeSpareAssignment(msg));
  EXPECT_EQ(back, env);
}

TEST(SpareAssignmentTest, IsIncompleteUntilTheFinalNulOnAnyPrefix) {
  const std::string msg = EncodeSpareAssignment({"RANK=3", "WORLD_SIZE=4"});
  for (size_t n = 0; n < msg.size(); ++n) {
    absl::StatusOr<std::vector<std::string>> part = DecodeSpareAssignment(msg.substr(0, n));
    EXPECT_TRUE(absl::IsFailedPrecondition(part.status())) << n << ": " << part.status();
  }
  EXPECT_THAT(DecodeSpareAssignment(msg), IsOk());
}

TEST(SpareAssignmentTest, AcceptsTheUnversionedMessageOfEarlierReleases) {
  FABRIC_ASSERT_OK_AND_ASSIGN(std::vector<std::string> env,
                              DecodeSpareAssignment(std::string("RANK=1\0A=b\0\0", 12)));
  EXPECT_THAT(env, ElementsAre("RANK=1", "A=b"));
}

TEST(SpareAssignmentTest, RefusesBadEntriesAndVersions) {
  for (const std::string& bad : {std::string("RANK\0\0", 6), std::string("=x\0\0", 4),
                                 std::string("A=b\0FABRIC_WORKER_CONTROL_VERSION=1\0\0", 37),
                                 std::string("FABRIC_WORKER_CONTROL_VERSION=x\0\0", 33),
                                 std::string("FABRIC_WORKER_CONTROL_VERSION=0\0\0", 33)}) {
    EXPECT_TRUE(absl::IsInvalidArgument(DecodeSpareAssignment(bad).status())) << absl::CEscape(bad);
  }
  absl::StatusOr<std::vector<std::string>> newer =
      DecodeSpareAssignment(std::string("FABRIC_WORKER_CONTROL_VERSION=9\0\0", 33));
  ASSERT_FALSE(newer.ok());
  EXPECT_THAT(std::string(newer.status().message()), HasSubstr("same fabric-run release"));
}

TEST(HeartbeatTest, ANewFileIsZeroCountersAndThisVersion) {
  const std::string file = NewHeartbeatFile();
  ASSERT_EQ(file.size(), kHeartbeatFileSize);
  FABRIC_ASSERT_OK_AND_ASSIGN(HeartbeatWords w, DecodeHeartbeat(file));
  EXPECT_EQ(w.beats, 0u);
  EXPECT_EQ(w.shrinks_taken, 0u);
  EXPECT_EQ(w.version, kHeartbeatVersion);
  EXPECT_EQ(w.step, std::nullopt);   // not reported yet
  EXPECT_EQ(w.total, std::nullopt);  // unknown
}

TEST(HeartbeatTest, ReadsTheWordsAtTheirDocumentedOffsets) {
  std::string file = NewHeartbeatFile();
  const uint64_t beats = 0x0102030405060708ULL, shrinks = 2;
  std::memcpy(file.data() + kHeartbeatBeatsOffset, &beats, 8);
  std::memcpy(file.data() + kHeartbeatShrinksOffset, &shrinks, 8);
  EXPECT_EQ(file[0], '\x08');  // little-endian, as Python's fabric_heartbeat packs "<Q"
  FABRIC_ASSERT_OK_AND_ASSIGN(HeartbeatWords w, DecodeHeartbeat(file));
  EXPECT_EQ(w.beats, beats);
  EXPECT_EQ(w.shrinks_taken, shrinks);
}

TEST(HeartbeatTest, AcceptsAVersionZeroFileAndRefusesGarbage) {
  FABRIC_ASSERT_OK_AND_ASSIGN(HeartbeatWords v0, DecodeHeartbeat(std::string(16, '\0')));
  EXPECT_EQ(v0.version, 0);
  EXPECT_FALSE(DecodeHeartbeat(std::string(15, '\0')).ok());
  EXPECT_FALSE(DecodeHeartbeat(std::string(24, '\0')).ok());  // word 2 is no version word
  std::string newer = NewHeartbeatFile();
  newer[kHeartbeatVersionOffset] = 7;
  absl::StatusOr<HeartbeatWords> w = DecodeHeartbeat(newer);
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(std::string(w.status().message()), HasSubstr("same fabric-run release"));
}

TEST(HeartbeatTest, TheStepWordReservesZeroForNotReported) {
  EXPECT_EQ(EncodeStepWord(std::nullopt), 0u);
  EXPECT_EQ(EncodeStepWord(0), 1u);  // step 0 reported is not "not reported"
  EXPECT_EQ(EncodeStepWord(41), 42u);
  EXPECT_EQ(DecodeStepWord(0), std::nullopt);
  EXPECT_EQ(DecodeStepWord(1), 0u);
  EXPECT_EQ(DecodeStepWord(42), 41u);
  EXPECT_EQ(EncodeStepWord(~uint64_t{0}), ~uint64_t{0} - 1);  // clamped, never wraps to 0
  // The one word the encoder never writes reads as the largest step it does write, so a
  // file read and written again reads the same (found by worker_control_fuzzer).
  EXPECT_EQ(DecodeStepWord(~uint64_t{0}), ~uint64_t{0} - 2);
  EXPECT_EQ(DecodeStepWord(EncodeStepWord(DecodeStepWord(~uint64_t{0}))),
            DecodeStepWord(~uint64_t{0}));
}

TEST(HeartbeatTest, ReadsStepAndTotalAtTheirDocumentedOffsets) {
  std::string file = NewHeartbeatFile();
  ASSERT_EQ(file.size(), 40u);
  const uint64_t step_word = 1 + 1234, total = 5000;
  std::memcpy(file.data() + kHeartbeatStepOffset, &step_word, 8);
  std::memcpy(file.data() + kHeartbeatTotalOffset, &total, 8);
  EXPECT_EQ(kHeartbeatStepOffset, 24u);
  EXPECT_EQ(kHeartbeatTotalOffset, 32u);
  FABRIC_ASSERT_OK_AND_ASSIGN(HeartbeatWords w, DecodeHeartbeat(file));
  EXPECT_EQ(w.step, 1234u);
  EXPECT_EQ(w.total, 5000u);
  EXPECT_EQ(w.beats, 0u);
}

TEST(HeartbeatTest, EncodeRoundTripsEveryVersion) {
  for (int version = 0; version <= kHeartbeatVersion; ++version) {
    HeartbeatWords w;
    w.beats = 7;
    w.shrinks_taken = 3;
    w.version = version;
    if (version >= 2) {
      w.step = 0;
      w.total = 100;
    }
    const std::string file = EncodeHeartbeat(w);
    FABRIC_ASSERT_OK_AND_ASSIGN(HeartbeatWords back, DecodeHeartbeat(file));
    EXPECT_EQ(back, w) << "version " << version;
  }
}

TEST(HeartbeatTest, AVersionOneFileHasNoStepEvenWhenLonger) {
  HeartbeatWords v1;
  v1.beats = 5;
  v1.version = 1;
  std::string file = EncodeHeartbeat(v1);
  ASSERT_EQ(file.size(), kHeartbeatFileSizeV1);
  FABRIC_ASSERT_OK_AND_ASSIGN(HeartbeatWords w, DecodeHeartbeat(file));
  EXPECT_EQ(w.version, 1);
  EXPECT_EQ(w.step, std::nullopt);
  file.append(16, '\x05');  // words 3, 4 of a version-1 file are not step and total
  FABRIC_ASSERT_OK_AND_ASSIGN(HeartbeatWords longer, DecodeHeartbeat(file));
  EXPECT_EQ(longer.step, std::nullopt);
  EXPECT_EQ(longer.total, std::nullopt);
}

TEST(HeartbeatTest, RefusesATruncatedVersionTwoFile) {
  const std::string file = NewHeartbeatFile();
  for (size_t n = kHeartbeatFileSizeV1; n < kHeartbeatFileSize; ++n) {
    EXPECT_TRUE(absl::IsInvalidArgument(DecodeHeartbeat(file.substr(0, n)).status())) << n;
  }
  EXPECT_THAT(DecodeHeartbeat(file), IsOk());
}

TEST(HeartbeatTest, TheHeartbeatVersionLeavesTheFifoLinesVersionAlone) {
  // The heartbeat grew words; the shrink line an older runtime reads did not change.
  EXPECT_EQ(EncodeShrink({2, 1}), "v1 shrink 2 1\n");
  std::string file = NewHeartbeatFile();
  const uint64_t word = kHeartbeatMagic | 3;  // newer than this build
  std::memcpy(file.data() + kHeartbeatVersionOffset, &word, 8);
  absl::StatusOr<HeartbeatWords> w = DecodeHeartbeat(file);
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(std::string(w.status().message()), HasSubstr("same fabric-run release"));
}

}  // namespace
}  // namespace fabric
