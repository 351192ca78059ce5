// The metric families a snapshot renders to: names, labels and value encodings docs/METRICS.md
// promises (the shipped alert rules and keepalived-exporter dashboards depend on them), series
// exported at zero from the start, and the text Prometheus scrapes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <map>
#include <string>

#include "metrics/families.h"
#include "metrics/listen_address.h"
#include "metrics/statistics.h"

namespace vipd::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Snapshot two_instances() {
  Snapshot s;
  s.interface = "eth0";
  s.version = "0.1.0";
  s.commit = "abc123";
  s.dataplane = Dataplane::Xdp;
  InstanceSample master;
  master.name = "web_VIP_1";
  master.vrid = 51;
  master.state = core::State::Master;
  master.priority = 150;
  master.vips = {{"198.18.0.100", true}, {"198.18.0.101", false}};
  master.adverts_sent = 42;
  master.adverts_received = 7;
  master.become_master = 2;
  master.release_master = 1;
  master.priority_zero_sent = 1;
  master.priority_zero_received = 3;
  master.rejects[static_cast<std::size_t>(core::DecodeError::BadTtl)] = 4;
  master.rejects[static_cast<std::size_t>(core::DecodeError::AuthMismatch)] = 5;
  master.rejects[static_cast<std::size_t>(core::DecodeError::Truncated)] = 1;
  master.rejects[static_cast<std::size_t>(core::DecodeError::CountMismatch)] = 2;
  master.garp_delay_s = 5;
  master.transitions[{core::State::Backup, core::State::Master, "master_down"}] = 2;
  s.instances.push_back(master);
  InstanceSample backup;
  backup.name = "web_VIP_2";
  backup.vrid = 52;
  backup.state = core::State::Fault;
  backup.priority = 100;
  backup.vips = {{"fd00:198:18::100", false}};
  s.instances.push_back(backup);
  s.rejects[static_cast<std::size_t>(core::DecodeError::BadTtl)] = 4;
  s.rejects[static_cast<std::size_t>(core::DecodeError::UnknownVrid)] = 9;
  s.loop_wakeups = 1234;
  return s;
}

const prometheus::MetricFamily* find(const std::vector<prometheus::MetricFamily>& families,
                                     const std::string& name) {
  const auto it = std::find_if(families.begin(), families.end(),
                               [&](const prometheus::MetricFamily& f) { return f.name == name; });
  return it == families.end() ? nullptr : &*it;
}

std::map<std::string, std::string> labels_of(const prometheus::ClientMetric& metric) {
  std::map<std::string, std::string> labels;
  for (const auto& label : metric.label) labels[label.name] = label.value;
  return labels;
}

// The value of the one series of `name` whose labels include `match`; NaN-free: fails if absent.
double value(const std::vector<prometheus::MetricFamily>& families, const std::string& name,
             const std::map<std::string, std::string>& match) {
  const prometheus::MetricFamily* family = find(families, name);
  if (family == nullptr) {
    ADD_FAILURE() << "no family " << name;
    return -1;
  }
  int found = 0;
  double result = -1;
  for (const auto& metric : family->metric) {
    const auto labels = labels_of(metric);
    if (!std::all_of(match.begin(), match.end(), [&](const auto& kv) {
          const auto it = labels.find(kv.first);
          return it != labels.end() && it->second == kv.second;
        })) {
      continue;
    }
    ++found;
    switch (family->type) {
      case prometheus::MetricType::Counter:
        result = metric.counter.value;
        break;
      case prometheus::MetricType::Gauge:
        result = metric.gauge.value;
        break;
      default:
        result = metric.untyped.value;
    }
  }
  EXPECT_EQ(found, 1) << name << " series matching the labels";
  return result;
}

std::string scrape(const Snapshot& s) {
  return prometheus::TextSerializer().Serialize(render(s));
}

TEST(MetricsFamilies, VipPresentIsExportedForEveryVipWithZeros) {
  const auto families = render(two_instances());
  EXPECT_EQ(value(families, "vipd_vip_present",
                  {{"iname", "web_VIP_1"}, {"vip", "198.18.0.100"}, {"interface", "eth0"}}),
            1);
  EXPECT_EQ(value(families, "vipd_vip_present", {{"iname", "web_VIP_1"}, {"vip", "198.18.0.101"}}),
            0);
  EXPECT_EQ(value(families, "vipd_vip_present", {{"vip", "fd00:198:18::100"}}), 0);
  EXPECT_EQ(find(families, "vipd_vip_present")->metric.size(), 3u);
}

TEST(MetricsFamilies, InstanceStateHasOneSeriesPerStateAndNoInstanceLabel) {
  const auto families = render(two_instances());
  const auto* state = find(families, "vipd_instance_state");
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->metric.size(), 10u);
  EXPECT_EQ(value(families, "vipd_instance_state", {{"iname", "web_VIP_1"}, {"state", "MASTER"}}),
            1);
  EXPECT_EQ(value(families, "vipd_instance_state", {{"iname", "web_VIP_1"}, {"state", "BACKUP"}}),
            0);
  EXPECT_EQ(value(families, "vipd_instance_state",
                  {{"iname", "web_VIP_2"}, {"state", "FAULT"}, {"vrid", "52"}}),
            1);
  // `instance` is Prometheus's target label: no vipd metric may carry it (docs/METRICS.md).
  for (const auto& family : families) {
    for (const auto& metric : family.metric) {
      EXPECT_FALSE(labels_of(metric).contains("instance")) << family.name;
    }
  }
}

TEST(MetricsFamilies, KeepalivedStateUsesKeepalivedNumbers) {
  const auto families = render(two_instances());
  EXPECT_EQ(value(families, "keepalived_vrrp_state",
                  {{"iname", "web_VIP_1"},
                   {"intf", "eth0"},
                   {"vrid", "51"},
                   {"ip_address", "198.18.0.100"}}),
            2);
  EXPECT_EQ(value(families, "keepalived_vrrp_state", {{"ip_address", "fd00:198:18::100"}}), 3);
  EXPECT_EQ(keepalived_state_number(core::State::Initialize), 0);
  EXPECT_EQ(keepalived_state_number(core::State::Backup), 1);
  EXPECT_EQ(keepalived_state_number(core::State::Master), 2);
  EXPECT_EQ(keepalived_state_number(core::State::Fault), 3);
  EXPECT_EQ(keepalived_state_number(core::State::Stopped), 0);
  EXPECT_EQ(value(families, "keepalived_up", {}), 1);
}

TEST(MetricsFamilies, KeepalivedCountersCarryTheExportersLabelsAndMapRejectReasons) {
  const auto families = render(two_instances());
  const std::map<std::string, std::string> master = {
      {"iname", "web_VIP_1"}, {"intf", "eth0"}, {"vrid", "51"}, {"state", "MASTER"}};
  EXPECT_EQ(value(families, "keepalived_advert_sent_total", master), 42);
  EXPECT_EQ(value(families, "keepalived_advert_rcvd_total", master), 7);
  EXPECT_EQ(value(families, "keepalived_become_master_total", master), 2);
  EXPECT_EQ(value(families, "keepalived_release_master_total", master), 1);
  EXPECT_EQ(value(families, "keepalived_pri_zero_sent_total", master), 1);
  EXPECT_EQ(value(families, "keepalived_pri_zero_rcvd_total", master), 3);
  EXPECT_EQ(value(families, "keepalived_ip_ttl_err_total", master), 4);
  EXPECT_EQ(value(families, "keepalived_auth_failure_total", master), 5);
  EXPECT_EQ(value(families, "keepalived_packet_len_err_total", master), 3);  // truncated + count
  EXPECT_EQ(value(families, "keepalived_garp_delay_total", master), 5);
  for (const char* name :
       {"keepalived_advert_interval_err_total", "keepalived_invalid_type_rcvd_total",
        "keepalived_addr_list_err_total", "keepalived_invalid_authtype_total",
        "keepalived_authtype_mismatch_total"}) {
    EXPECT_EQ(value(families, name, master), 0) << name;
    EXPECT_EQ(value(families, name, {{"iname", "web_VIP_2"}, {"state", "FAULT"}}), 0) << name;
  }
}

TEST(MetricsFamilies, RejectsAreExportedForEveryReasonFromTheStart) {
  const auto families = render(two_instances());
  const auto* rejects = find(families, "vipd_adverts_rejected_total");
  ASSERT_NE(rejects, nullptr);
  EXPECT_EQ(rejects->metric.size(), core::reject_reasons().size());
  EXPECT_EQ(value(families, "vipd_adverts_rejected_total", {{"reason", "bad_ttl"}}), 4);
  EXPECT_EQ(value(families, "vipd_adverts_rejected_total", {{"reason", "unknown_vrid"}}), 9);
  EXPECT_EQ(value(families, "vipd_adverts_rejected_total",
                  {{"reason", "auth_mismatch"}, {"interface", "eth0"}}),
            0);
}

TEST(MetricsFamilies, TransitionsAreExportedAtZeroForEveryKnownKind) {
  const auto families = render(two_instances());
  const auto* transitions = find(families, "vipd_transitions_total");
  ASSERT_NE(transitions, nullptr);
  EXPECT_EQ(transitions->metric.size(), 2 * known_transitions().size());
  EXPECT_EQ(value(families, "vipd_transitions_total",
                  {{"iname", "web_VIP_1"},
                   {"from", "BACKUP"},
                   {"to", "MASTER"},
                   {"reason", "master_down"}}),
            2);
  EXPECT_EQ(value(families, "vipd_transitions_total",
                  {{"iname", "web_VIP_2"},
                   {"from", "MASTER"},
                   {"to", "FAULT"},
                   {"reason", "health_check"}}),
            0);
  EXPECT_EQ(
      value(families, "vipd_transitions_total",
            {{"iname", "web_VIP_2"}, {"from", "INIT"}, {"to", "BACKUP"}, {"reason", "startup"}}),
      0);
}

// The series the shipped rules VipdSplitBrainDetected and VipdMasterAlone read: both kinds at
// zero from the start, so increase() sees the first event.
TEST(MetricsFamilies, SplitBrainSeriesPerInstanceFromTheStart) {
  Snapshot s = two_instances();
  s.instances[0].split_brain_vrrp = 3;
  s.instances[0].split_brain_foreign = 1;
  s.instances[0].alone = true;
  s.instances[0].peers_heard = 2;
  const auto families = render(s);
  EXPECT_EQ(value(families, "vipd_split_brain_events_total",
                  {{"iname", "web_VIP_1"}, {"kind", "vrrp"}, {"vrid", "51"}}),
            3);
  EXPECT_EQ(value(families, "vipd_split_brain_events_total",
                  {{"iname", "web_VIP_1"}, {"kind", "foreign"}}),
            1);
  EXPECT_EQ(
      value(families, "vipd_split_brain_events_total", {{"iname", "web_VIP_2"}, {"kind", "vrrp"}}),
      0);
  EXPECT_EQ(find(families, "vipd_split_brain_events_total")->metric.size(), 4u);
  EXPECT_EQ(value(families, "vipd_alone", {{"iname", "web_VIP_1"}}), 1);
  EXPECT_EQ(value(families, "vipd_alone", {{"iname", "web_VIP_2"}}), 0);
  EXPECT_EQ(value(families, "vipd_peers_heard", {{"iname", "web_VIP_1"}}), 2);
  EXPECT_EQ(value(families, "vipd_peers_heard", {{"iname", "web_VIP_2"}}), 0);
  EXPECT_THAT(scrape(s), HasSubstr("# TYPE vipd_split_brain_events_total counter"));
}

TEST(MetricsFamilies, NodeFamilies) {
  Snapshot s = two_instances();
  s.port_refusals[8080] = 17;
  HealthSample& health = s.health.emplace();
  health.name = "chk_web";
  health.passed = true;
  health.durations = {{0.01, 0.1}, {2, 3}, 4, 0.5};
  const auto families = render(s);
  EXPECT_EQ(value(families, "vipd_build_info", {{"version", "0.1.0"}, {"commit", "abc123"}}), 1);
  EXPECT_EQ(value(families, "vipd_dataplane", {{"mode", "xdp"}}), 1);
  EXPECT_EQ(value(families, "vipd_dataplane", {{"mode", "raw"}}), 0);
  EXPECT_EQ(value(families, "vipd_event_loop_wakeups_total", {}), 1234);
  EXPECT_EQ(value(families, "vipd_port_refusals_total", {{"port", "8080"}}), 17);
  EXPECT_EQ(value(families, "keepalived_check_script_status",
                  {{"iname", "web_VIP_1"}, {"ip_address", "198.18.0.101"}}),
            1);
  const std::string text = prometheus::TextSerializer().Serialize(families);
  EXPECT_THAT(
      text,
      HasSubstr("vipd_health_check_duration_seconds_bucket{check=\"chk_web\",le=\"0.01\"} 2"));
  EXPECT_THAT(
      text,
      HasSubstr("vipd_health_check_duration_seconds_bucket{check=\"chk_web\",le=\"+Inf\"} 4"));
  EXPECT_THAT(text, HasSubstr("vipd_health_check_duration_seconds_count{check=\"chk_web\"} 4"));
}

TEST(MetricsFamilies, KubernetesApiStateAndTheServicesEndpoints) {
  Snapshot s = two_instances();
  KubernetesSample& k = s.kubernetes.emplace();
  k.service = "shop/web";
  k.api_reachable = false;
  k.api_stale = true;
  k.api_outages = 2;
  k.api_failures = 7;
  k.relists_after_gone = 1;
  k.local_ready = 1;
  k.local_not_ready = 2;
  k.ready_elsewhere = 3;
  const auto families = render(s);
  const std::pair<std::string, std::string> service = {"service", "shop/web"};
  EXPECT_EQ(value(families, "vipd_kubernetes_api_reachable", {service}), 0);
  EXPECT_EQ(value(families, "vipd_kubernetes_api_stale", {service}), 1);
  EXPECT_EQ(value(families, "vipd_kubernetes_api_outages_total", {service}), 2);
  EXPECT_EQ(value(families, "vipd_kubernetes_api_failures_total", {service}), 7);
  EXPECT_EQ(value(families, "vipd_kubernetes_relists_total", {service}), 1);
  EXPECT_EQ(value(families, "vipd_service_endpoints", {service, {"where", "local_ready"}}), 1);
  EXPECT_EQ(value(families, "vipd_service_endpoints", {service, {"where", "local_not_ready"}}), 2);
  EXPECT_EQ(value(families, "vipd_service_endpoints", {service, {"where", "ready_elsewhere"}}), 3);
  EXPECT_THAT(scrape(two_instances()), Not(HasSubstr("vipd_kubernetes_api")));
}

TEST(MetricsFamilies, NoCheckNoCheckSeries) {
  const std::string text = scrape(two_instances());
  EXPECT_THAT(text, Not(HasSubstr("keepalived_check_script_status")));
  EXPECT_THAT(text, Not(HasSubstr("vipd_health_check_duration_seconds")));
  EXPECT_THAT(text, Not(HasSubstr("vipd_port_refusals_total")));
  EXPECT_THAT(text, HasSubstr("# TYPE vipd_transitions_total counter"));
  EXPECT_THAT(text, HasSubstr("# TYPE vipd_vip_present gauge"));
}

TEST(MetricsFamilies, TransitionKeysNameTheFault) {
  using core::FaultReason;
  using core::State;
  using core::StateReason;
  const auto bit = [](FaultReason r) { return static_cast<std::uint8_t>(r); };
  EXPECT_EQ(transition_key({State::Master, State::Fault, StateReason::FaultRaised}, 0,
                           bit(FaultReason::CheckFailed))
                .reason,
            "health_check");
  EXPECT_EQ(transition_key({State::Fault, State::Backup, StateReason::FaultCleared},
                           bit(FaultReason::InterfaceDown), 0)
                .reason,
            "interface_down");
  // Start-up with the fault already raised: no change seen, the raised fault names it.
  EXPECT_EQ(transition_key({State::Initialize, State::Fault, StateReason::FaultRaised},
                           bit(FaultReason::AddressMissing), bit(FaultReason::AddressMissing))
                .reason,
            "address_missing");
  EXPECT_EQ(transition_key({State::Backup, State::Master, StateReason::MasterDown}, 0, 0).reason,
            "master_down");
  EXPECT_EQ(
      transition_key({State::Master, State::Backup, StateReason::HigherPriority}, 0, 0).reason,
      "higher_priority");
  // Every key the core can produce is among the series exported at zero.
  const auto known = known_transitions();
  for (const TransitionKey& key :
       {transition_key({State::Initialize, State::Backup, StateReason::Startup}, 0, 0),
        transition_key({State::Initialize, State::Master, StateReason::AddressOwner}, 0, 0),
        transition_key({State::Master, State::Stopped, StateReason::Stopped}, 0, 0),
        transition_key({State::Fault, State::Master, StateReason::FaultCleared},
                       bit(FaultReason::VipRejected), 0)}) {
    EXPECT_NE(std::find(known.begin(), known.end(), key), known.end()) << key.reason;
  }
}

TEST(MetricsStatistics, OneLineForTheNodeAndOnePerInstance) {
  const auto lines = statistics_lines(two_instances());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr("Statistics on eth0: receive path xdp"));
  EXPECT_THAT(lines[0], HasSubstr("bad_ttl=4 unknown_vrid=9"));
  EXPECT_THAT(lines[0], HasSubstr("event loop wakeups 1234"));
  EXPECT_THAT(lines[1],
              HasSubstr("(web_VIP_1) statistics: state MASTER, adverts sent 42, received 7"));
  EXPECT_THAT(lines[1], HasSubstr("priority 0 sent 1, received 3"));
  EXPECT_THAT(lines[2], HasSubstr("rejected: none"));
}

TEST(MetricsListenAddress, AcceptedForms) {
  const auto any = parse_listen_address(":9112");
  ASSERT_TRUE(any.ok());
  ASSERT_TRUE(any->has_value());
  EXPECT_EQ((*any)->port, 9112);
  EXPECT_EQ((*any)->host, "");
  EXPECT_EQ((*any)->civetweb(true), "+9112");
  EXPECT_EQ((*any)->civetweb(false), "9112");
  EXPECT_EQ((*any)->text(), ":9112");
  const auto v4 = parse_listen_address("198.18.0.1:9200");
  ASSERT_TRUE(v4.ok() && v4->has_value());
  EXPECT_EQ((*v4)->civetweb(), "198.18.0.1:9200");
  const auto v6 = parse_listen_address("[fd00:198:18::1]:9200");
  ASSERT_TRUE(v6.ok() && v6->has_value());
  EXPECT_EQ((*v6)->civetweb(), "[fd00:198:18::1]:9200");
  EXPECT_EQ((*v6)->text(), "[fd00:198:18::1]:9200");
  const auto off = parse_listen_address("");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->has_value());
  EXPECT_EQ(std::string(kDefaultAddress), ":" + std::to_string(kDefaultPort));
}

TEST(MetricsListenAddress, RefusedFormsNameTheValue) {
  for (const char* bad : {"9112", "localhost:9112", ":0", ":65536", ":http", "198.18.0.1:",
                          "fd00::1:9112", "[198.18.0.1]:9112", "[fd00::1:9112", "1.2.3:9112"}) {
    const auto parsed = parse_listen_address(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_THAT(parsed.message(), HasSubstr(std::string("'") + bad + "'")) << bad;
  }
}

}  // namespace
}  // namespace vipd::metrics
