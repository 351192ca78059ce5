#include "k8s/endpoint_count.h"

#include <set>

namespace vipd::k8s {

void ServiceEndpoints::replace_all(std::vector<EndpointSlice> slices) {
  slices_.clear();
  for (EndpointSlice& slice : slices) upsert(std::move(slice));
}

void ServiceEndpoints::upsert(EndpointSlice slice) {
  std::string name = slice.name;
  slices_[std::move(name)] = std::move(slice);
}

void ServiceEndpoints::remove(const std::string& slice_name) {
  slices_.erase(slice_name);
}

EndpointCount ServiceEndpoints::count(const std::string& node_name) const {
  // A backend appears once per address family (dual stack) and, briefly, in two slices while the
  // controller moves it. Not ready anywhere means not ready: an unready copy wins over a ready one,
  // as in MetalLB's BGP speaker.
  struct Backend {
    bool ready = true;
    std::string node;
  };
  std::map<std::string, Backend> backends;
  for (const auto& [name, slice] : slices_) {
    for (const Endpoint& endpoint : slice.endpoints) {
      // A backend names itself by targetRef or address; an endpoint with neither (identity
      // "#<index>") is only known within its slice.
      const bool unnamed = endpoint.identity.rfind('#', 0) == 0;
      Backend& backend = backends[unnamed ? name + endpoint.identity : endpoint.identity];
      backend.ready = backend.ready && endpoint.ready;
      if (backend.node.empty()) backend.node = endpoint.node_name;
    }
  }
  EndpointCount count;
  count.slices = slices_.size();
  std::set<std::string> ready_nodes;
  for (const auto& [identity, backend] : backends) {
    if (!node_name.empty() && backend.node == node_name) {
      ++(backend.ready ? count.local_ready : count.local_not_ready);
    } else if (backend.ready) {
      ++count.ready_elsewhere;
      if (!backend.node.empty()) ready_nodes.insert(backend.node);
    }
  }
  count.ready_nodes.assign(ready_nodes.begin(), ready_nodes.end());
  return count;
}

}  // namespace vipd::k8s
