// Where a hung worker was: the stack it printed when fabric-run sent it SIGABRT before
// killing it. Python workers print it through faulthandler (fabric-run sets
// PYTHONFAULTHANDLER=1 unless the environment sets it):
//     Current thread 0x00007f... (most recent call first):
//       File "/x/torch/distributed/distributed_c10d.py", line 2890 in all_reduce
//       File "/job/train.py", line 52 in <module>
// and the C++ runtime through its SIGABRT handler (runtime/heartbeat.h), in glibc's
// backtrace_symbols_fd format:
//     *** fabric runtime: SIGABRT; stack (most recent call first):
//     /lib/x86_64-linux-gnu/libc.so.6(__poll+0x4f) [0x7f...]
//     /v/torch/lib/libtorch_cpu.so(_ZN4gloo9transport...+0x1a) [0x7f...]
//     /job/train(+0x1234) [0x55...]
// Pure parsing of the lines the agent kept.
#ifndef FABRIC_LAUNCHER_STACK_SUMMARY_H_
#define FABRIC_LAUNCHER_STACK_SUMMARY_H_

#include <string>
#include <vector>

namespace fabric::launcher {

// The frames of the last stack dump in `lines`, most recent call first, each as
// "func (file.py:52)" or "symbol"; empty when there is none.
std::vector<std::string> LastStackDump(const std::vector<std::string>& lines);

// One line for a report: the innermost frames and the outermost one, e.g.
// "all_reduce (distributed_c10d.py:2890) <- wrapper (c10d_logger.py:81) <- ... <-
// <module> (train.py:52)"; empty when `frames` is.
std::string SummarizeStack(const std::vector<std::string>& frames);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_STACK_SUMMARY_H_
