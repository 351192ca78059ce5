// One Service's endpoints, kept per EndpointSlice from a list and the watch events after it, and
// counted the way MetalLB's speaker counts them for `externalTrafficPolicy: Local`: endpoints on
// this node whose ready condition holds.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "k8s/endpoint_slice.h"

namespace vipd::k8s {

struct EndpointCount {
  int local_ready = 0;      // distinct backends on this node that are ready
  int local_not_ready = 0;  // on this node, not ready (e.g. terminating, failing readiness)
  int ready_elsewhere = 0;  // ready on other nodes or on no node
  std::vector<std::string> ready_nodes;  // other nodes with a ready backend, sorted
  std::size_t slices = 0;
};

class ServiceEndpoints {
 public:
  // A fresh list replaces everything known (slices missing from it were deleted meanwhile).
  void replace_all(std::vector<EndpointSlice> slices);
  // ADDED or MODIFIED: the slice as it is now.
  void upsert(EndpointSlice slice);
  // DELETED.
  void remove(const std::string& slice_name);
  EndpointCount count(const std::string& node_name) const;
  std::size_t slices() const { return slices_.size(); }

 private:
  std::map<std::string, EndpointSlice> slices_;
};

}  // namespace vipd::k8s
