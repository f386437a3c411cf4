"""An unmodified torch script using torch's own file-timer client, as under torchrun:
rank 1 wraps a 60 s sleep in `expires(after=2)`; rank 0 just sleeps. Prints
SCOPE_ENTERED <unix time> before entering the scope."""
import os
import time

import torch.distributed.elastic.timer as timer

timer.configure(timer.FileTimerClient(os.environ["TORCHELASTIC_TIMER_FILE"]))
if os.environ["RANK"] == "1":
    print(f"SCOPE_ENTERED {time.time():.3f}", flush=True)
    with timer.expires(after=2, scope="slow_step"):
        time.sleep(60)
else:
    time.sleep(60)
