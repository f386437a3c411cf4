#include "launcher/stack_summary.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(StackSummaryTest, PythonFaulthandlerDumpCurrentThreadFirst) {
  // What Python 3.11/3.12's faulthandler prints on SIGABRT (PYTHONFAULTHANDLER=1).
  const std::vector<std::string> lines = {
      "step 3 loss 0.5",
      "Fatal Python error: Aborted",
      "",
      "Current thread 0x00007f3a9c1b4740 (most recent call first):",
      "  File \"/v/torch/distributed/distributed_c10d.py\", line 2890 in all_reduce",
      "  File \"/v/torch/distributed/c10d_logger.py\", line 81 in wrapper",
      "  File \"/job/hang.py\", line 20 in step",
      "  File \"/job/hang.py\", line 31 in <module>",
      "",
      "Thread 0x00007f3a8aa00640 (most recent call first):",
      "  File \"/usr/lib/python3.11/threading.py\", line 320 in wait",
      "",
      "Extension modules: torch._C (total: 1)"};
  std::vector<std::string> frames = LastStackDump(lines);
  EXPECT_THAT(frames,
              ElementsAre("all_reduce (distributed_c10d.py:2890)", "wrapper (c10d_logger.py:81)",
                          "step (hang.py:20)", "<module> (hang.py:31)"));
  EXPECT_EQ(SummarizeStack(frames),
            "all_reduce (distributed_c10d.py:2890) <- wrapper (c10d_logger.py:81) <- step "
            "(hang.py:20) <- <module> (hang.py:31)");
}

TEST(StackSummaryTest, NativeRuntimeDumpAndLongStacks) {
  // glibc's backtrace_symbols_fd lines, as runtime/heartbeat.cc writes them.
  const std::vector<std::string> lines = {
      "*** fabric runtime: SIGABRT; stack (most recent call first):",
      "/lib/x86_64-linux-gnu/libc.so.6(__poll+0x4f)[0x7f00000001]",
      "/v/torch/lib/libtorch_cpu.so(_ZN4c10d5Store3getERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE+0x2) [0x7f00000002]",
      "/v/torch/lib/libtorch_cpu.so(+0x3) [0x7f00000003]",
      "/job/train(+0x1234) [0x5500000004]",
      "/job/train(main+0x5) [0x5500000005]"};
  EXPECT_THAT(LastStackDump(lines),
              ElementsAre("__poll",
                          "c10d::Store::get(std::__cxx11::basic_string<char, "
                          "std::char_traits<char>, std::allocator<char> > const&)",
                          "libtorch_cpu.so+0x3", "train+0x1234", "main"));
  // The C library's frames lead every blocked stack: the summary starts at the caller.
  EXPECT_EQ(SummarizeStack(LastStackDump(lines)).substr(0, 32), "c10d::Store::get(std::__cxx11::b");
}

TEST(StackSummaryTest, NoDumpNoFrames) {
  EXPECT_THAT(LastStackDump({"loss 1.0", "Traceback (most recent call last):",
                             "  File \"x.py\", line 1, in <module>"}),
              IsEmpty());  // a traceback is not a hang dump (", in" vs " in")
  EXPECT_EQ(SummarizeStack({}), "");
}

}  // namespace
}  // namespace fabric::launcher
