// The rendezvous server's Prometheus metrics (fabric-rendezvous --metrics-port; names in
// doc/metrics.md): gauges set from the run's status at each scrape, so they say what the
// rendezvous knows now (its round, members, waiting nodes, restarts used and left, phase).
// Pure: a MetricRegistry in, nothing else.
#ifndef FABRIC_RENDEZVOUS_SERVER_METRICS_H_
#define FABRIC_RENDEZVOUS_SERVER_METRICS_H_

#include "common/metrics.h"
#include "rendezvous/types.h"

namespace fabric::rendezvous {

void DeclareServerMetrics(MetricRegistry& r);
// `connected`: the nodes with an open session (RendezvousServer::ConnectedNodes).
void SetServerGauges(const RunStatus& s, size_t connected, MetricRegistry& r);

}  // namespace fabric::rendezvous

#endif  // FABRIC_RENDEZVOUS_SERVER_METRICS_H_
