// Fabric's progress through the heartbeat file: one process, one rank, a real file the
// agent's way (NewHeartbeatFile) read back through the agent's decoder. Its own binary:
// the heartbeat file is opened once per process (runtime/heartbeat.h).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "common/status_matchers.h"
#include "common/worker_control.h"
#include "gtest/gtest.h"
#include "runtime/fabric.h"
#include "runtime/runtime_env.h"
#include "torch/torch.h"

namespace fabric::runtime {
namespace {

HeartbeatWords ReadBack(const std::string& path) {
  char b[64];
  const int fd = open(path.c_str(), O_RDONLY);
  const ssize_t n = pread(fd, b, sizeof(b), 0);
  close(fd);
  absl::StatusOr<HeartbeatWords> w =
      DecodeHeartbeat(absl::string_view(b, n > 0 ? static_cast<size_t>(n) : 0));
  EXPECT_TRUE(w.ok()) << w.status();
  return w.ok() ? *w : HeartbeatWords{};
}

absl::Status TrainStep(Fabric& f, torch::nn::Linear& lin) {
  FABRIC_ASSIGN_OR_RETURN(at::Tensor loss, f.Forward([&] {
    return lin->forward(at::ones({4, 2})).pow(2).sum();
  }));
  FABRIC_RETURN_IF_ERROR(f.Backward(loss));
  return f.Step();
}

TEST(FabricProgressTest, StepReportsItsCountAndTheTrainerItsTotal) {
  const std::string dir =
      std::string(getenv("TEST_TMPDIR") != nullptr ? getenv("TEST_TMPDIR") : "/tmp");
  const std::string path = dir + "/fabric_progress_test.beat";
  {
    const std::string file = NewHeartbeatFile();
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_EQ(write(fd, file.data(), file.size()), static_cast<ssize_t>(file.size()));
    close(fd);
  }
  FABRIC_ASSERT_OK_AND_ASSIGN(auto f, Fabric::Create({}, EnvMap{{kEnvFabricHeartbeatFile, path}}));
  f->SetTotalSteps(7);  // before Launch: written when Launch opens the file
  EXPECT_EQ(ReadBack(path).total, std::nullopt);
  ASSERT_THAT(f->Launch(), IsOk());
  HeartbeatWords w = ReadBack(path);
  EXPECT_EQ(w.total, 7u);
  EXPECT_EQ(w.step, std::nullopt);  // no step taken, none set: not reported
  EXPECT_GE(w.beats, 1u);
  torch::nn::Linear lin(2, 1);
  ASSERT_THAT(f->Setup(lin.ptr(),
                       [](std::vector<at::Tensor> p) {
                         return std::make_unique<torch::optim::SGD>(p,
                                                                    torch::optim::SGDOptions(0.01));
                       }),
              IsOk());
  for (int i = 0; i < 3; ++i) ASSERT_THAT(TrainStep(*f, lin), IsOk());
  w = ReadBack(path);
  EXPECT_EQ(w.step, 3u);
  EXPECT_EQ(f->steps_done(), 3);
  // The trainer's own count: later steps add one to it; steps_done() is not changed.
  f->SetStep(100);
  EXPECT_EQ(ReadBack(path).step, 100u);
  ASSERT_THAT(TrainStep(*f, lin), IsOk());
  EXPECT_EQ(ReadBack(path).step, 101u);
  EXPECT_EQ(f->steps_done(), 4);
  f->SetStep(-1);  // ignored
  f->SetTotalSteps(-5);
  w = ReadBack(path);
  EXPECT_EQ(w.step, 101u);
  EXPECT_EQ(w.total, 7u);
  f->SetTotalSteps(0);  // unknown again
  EXPECT_EQ(ReadBack(path).total, std::nullopt);
  unlink(path.c_str());
}

}  // namespace
}  // namespace fabric::runtime
