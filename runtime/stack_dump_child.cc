// stack_dump_child BEAT_FILE: a fresh process for heartbeat_test's live-stack tests (the
// test process has already opened its heartbeat file once, and that holds per process):
// opens BEAT_FILE as the runtime does under fabric-run, installs the handlers, and waits
// for signals until killed.
#include <unistd.h>

#include "runtime/heartbeat.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  fabric::runtime::OpenHeartbeatFile(argv[1]);
  fabric::runtime::InstallHangStackHandler();
  for (;;) pause();
}
