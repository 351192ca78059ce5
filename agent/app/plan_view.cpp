#include "app/plan_view.h"

#include <nlohmann/json.hpp>

namespace vipd::app {
namespace {

std::int64_t to_ms(core::Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
}

std::string health_kind(const config::HealthPlan& health) {
  switch (health.kind) {
    case config::HealthPlan::Kind::TcpPort:
      return "tcp-port";
    case config::HealthPlan::Kind::Script:
      return "script";
    case config::HealthPlan::Kind::HttpGet:
      return "http-get";
    case config::HealthPlan::Kind::ServiceEndpoints:
      return "service-endpoints";
    case config::HealthPlan::Kind::None:
      break;
  }
  return "none";
}

std::string vip_text(const config::Vip& vip) {
  return vip.address.to_string() + "/" + std::to_string(vip.prefix);
}

}  // namespace

std::string plan_json(const config::Plan& plan, const std::vector<std::string>& errors) {
  if (!errors.empty()) return nlohmann::json{{"valid", false}, {"errors", errors}}.dump(2) + "\n";
  nlohmann::json instances = nlohmann::json::array();
  for (const config::InstancePlan& instance : plan.instances) {
    nlohmann::json vips = nlohmann::json::array();
    for (const config::Vip& vip : instance.vips) vips.push_back(vip_text(vip));
    instances.push_back({
        {"name", instance.name},
        {"number", instance.number},
        {"vrid", instance.core.vrid},
        {"vips", vips},
        {"priority", instance.core.priority},
        {"master_eligible", instance.master_eligible},
        {"preempt", instance.core.preempt},
        {"preempt_delay_s",
         std::chrono::duration_cast<std::chrono::seconds>(instance.core.preempt_delay).count()},
        {"auth", instance.auth_type == core::AuthType::SimplePassword ? "pass" : "none"},
    });
  }
  nlohmann::json peers = nlohmann::json::array();
  for (const auto& peer : plan.unicast_peers) peers.push_back(peer.to_string());
  for (const auto& name : plan.transport.peer_names) peers.push_back(name);
  nlohmann::json allowed = nlohmann::json::array();
  for (const auto& source : plan.transport.allowed_sources) allowed.push_back(source.to_string());
  const config::HealthPlan& health = plan.health;
  nlohmann::json check = {{"kind", health_kind(health)}, {"name", health.name}};
  if (health.kind != config::HealthPlan::Kind::None) {
    check["interval_ms"] = to_ms(health.interval);
    check["timeout_ms"] = to_ms(health.timeout);
    check["rise"] = health.rise;
    check["fall"] = health.fall;
    check["weight"] = health.weight;
    check["fast_fail"] = health.fast_fail && health.kind == config::HealthPlan::Kind::TcpPort;
  }
  if (health.kind == config::HealthPlan::Kind::TcpPort) {
    check["address"] = health.address.to_string();
    check["port"] = health.port;
  }
  if (health.kind == config::HealthPlan::Kind::Script) check["script"] = health.script_argv;
  if (health.kind == config::HealthPlan::Kind::HttpGet) {
    check["url"] = health.url;
    check["expected_status"] = health.expected_status;
  }
  if (health.kind == config::HealthPlan::Kind::ServiceEndpoints) {
    const config::ServiceCheckPlan& service = health.service;
    check["service"] = service.namespace_name + "/" + service.service;
    check["node_name"] = service.node_name;
    check["api_server"] = service.api_server;
    check["token_file"] = service.token_file;
    check["ca_file"] = service.ca_file;
    check["api_grace_ms"] = to_ms(service.api_grace);
  }
  const auto& first = plan.instances.front().core;
  nlohmann::json json = {
      {"valid", true},
      {"errors", nlohmann::json::array()},
      {"notes", plan.notes},
      {"interface", plan.interface},
      {"source", plan.source.to_string()},
      {"transport", config::transport_name(plan)},
      {"unicast_peers", peers},
      {"peer_resolve_interval_ms", to_ms(plan.transport.resolve_interval)},
      {"allowed_sources", allowed},
      {"split_brain",
       {{"probe_interval_ms", to_ms(plan.split_brain.probe_interval)},
        {"learned_peer_timeout_ms", to_ms(plan.split_brain.learned_peer_timeout)},
        {"defend_interval_ms", to_ms(plan.split_brain.defend_interval)},
        {"peers_expected", plan.split_brain.expected_peers}}},
      {"garp_master_refresh_ms", to_ms(plan.garp.refresh)},
      {"vrrp_version", static_cast<int>(first.version)},
      {"advert_interval_ms", to_ms(first.advert_interval)},
      {"receive_path", plan.use_bpf ? "xdp" : "raw-socket"},
      {"health_check", check},
      {"notify_script", plan.notify_script},
      {"instances", instances},
  };
  return json.dump(2) + "\n";
}

std::string plan_text(const config::Plan& plan) {
  std::string out;
  const auto& first = plan.instances.front().core;
  out += "interface   " + plan.interface + "\n";
  out += "source      " + plan.source.to_string() + "\n";
  out += "transport   " + std::string(config::transport_name(plan));
  for (const auto& peer : plan.unicast_peers) {
    out += ' ';
    out += peer.to_string();
  }
  for (const auto& name : plan.transport.peer_names) {
    out += ' ';
    out += name;
  }
  out += "\nsplit brain probes every " + std::to_string(to_ms(plan.split_brain.probe_interval)) +
         " ms, learned peers kept " + std::to_string(to_ms(plan.split_brain.learned_peer_timeout)) +
         " ms";
  out += "\nVRRP        v" + std::to_string(static_cast<int>(first.version)) + ", adverts every " +
         std::to_string(to_ms(first.advert_interval)) + " ms\n";
  out += "receive     " +
         std::string(plan.use_bpf ? "XDP (raw socket if eBPF is unavailable)" : "raw socket") +
         "\n";
  const config::HealthPlan& health = plan.health;
  out += "check       ";
  if (health.kind == config::HealthPlan::Kind::TcpPort) {
    out += health.name + ": TCP " + health.address.to_string() + ":" + std::to_string(health.port);
  } else if (health.kind == config::HealthPlan::Kind::Script) {
    out += health.name + ":";
    for (const auto& arg : health.script_argv) out += " " + arg;
  } else if (health.kind == config::HealthPlan::Kind::HttpGet) {
    out += health.name + ": GET " + health.url + " expecting " +
           std::to_string(health.expected_status);
  } else if (health.kind == config::HealthPlan::Kind::ServiceEndpoints) {
    const config::ServiceCheckPlan& service = health.service;
    out += health.name + ": a ready endpoint of Service " + service.namespace_name + "/" +
           service.service + " on node " + service.node_name + " (EndpointSlices from " +
           service.api_server + ", API outages kept, stale after " +
           std::to_string(to_ms(service.api_grace) / 1000) + " s)";
  } else {
    out += "none";
  }
  if (health.kind == config::HealthPlan::Kind::ServiceEndpoints) {
    out += ", weight " + std::to_string(health.weight) +
           (health.weight == 0 ? " (failure: FAULT)" : "");
  } else if (health.kind != config::HealthPlan::Kind::None) {
    out += " every " + std::to_string(to_ms(health.interval)) + " ms, weight " +
           std::to_string(health.weight) + (health.weight == 0 ? " (failure: FAULT)" : "");
  }
  out += "\nnotify      " +
         (plan.notify_script.empty() ? std::string("none") : plan.notify_script) + "\n\n";
  char line[512];
  std::snprintf(line, sizeof line, "%-28s %4s %4s %-8s %-18s %s\n", "INSTANCE", "VRID", "PRIO",
                "ROLE", "PREEMPTION", "VIPS");
  out += line;
  for (const config::InstancePlan& instance : plan.instances) {
    std::string vips;
    for (const config::Vip& vip : instance.vips) {
      if (!vips.empty()) vips += ',';
      vips += vip_text(vip);
    }
    const std::string preemption =
        !instance.core.preempt ? "nopreempt"
        : instance.core.preempt_delay.count() == 0
            ? "preempt"
            : "preempt_delay " + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                    instance.core.preempt_delay)
                                                    .count());
    std::snprintf(line, sizeof line, "%-28s %4d %4d %-8s %-18s %s\n", instance.name.c_str(),
                  instance.core.vrid, instance.core.priority,
                  instance.master_eligible ? "master" : "backup", preemption.c_str(), vips.c_str());
    out += line;
  }
  for (const std::string& note : plan.notes) out += "note: " + note + "\n";
  return out;
}

}  // namespace vipd::app
