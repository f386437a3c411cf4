// Settings a Kubernetes training operator puts in a pod's environment that torchrun
// leaves to the user's command line. Inside a pod (the kubelet sets
// KUBERNETES_SERVICE_HOST in every container), fabric-run reads them below the command
// line, FABRIC_* and PET_* (doc/cli.md, "Where settings come from"):
//
//   main-address <- MASTER_ADDR, main-port <- MASTER_PORT   (Kubeflow PyTorchJob; a
//       TrainJob sets PET_MASTER_ADDR/PET_MASTER_PORT, read as torchrun reads them)
//   node-rank    <- JOB_COMPLETION_INDEX  (an Indexed Job / JobSet pod; only when the
//       number of nodes is given, and PET_NODE_RANK, which both operators set, wins)
//   grace-period <- 20s  (SIGTERM handling ends inside the pod's default
//       terminationGracePeriodSeconds of 30 s, before the kubelet's SIGKILL)
//
// A pod's RANK and WORLD_SIZE (the operator's per-pod rank and process count) are never
// read: every worker gets its own.
#ifndef FABRIC_LAUNCHER_KUBERNETES_H_
#define FABRIC_LAUNCHER_KUBERNETES_H_

#include "common/worker_env.h"
#include "launcher/cli_values.h"

namespace fabric::launcher {

// True inside a Kubernetes pod.
bool InKubernetesPod(const EnvMap& env);

// Adds the settings above to `raw` where it has none; no-op outside a pod. Each added
// value's source is "Kubernetes <VARIABLE>" (or "Kubernetes pod" for the grace period).
void AddKubernetesSettings(const EnvMap& env, RawMap* raw);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_KUBERNETES_H_
