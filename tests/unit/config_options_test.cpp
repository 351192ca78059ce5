// Option precedence (flag > environment > config file > default) through CLI11, exactly as
// main.cpp wires it, and the config file's key forms and errors.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "config/options.h"
#include "config_test_env.h"

namespace vipd::config {
namespace {

using testing_env::parse_like_main;
using testing_env::Parsed;
using testing_env::ScopedEnvironment;

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

// A config file that exists for one test.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text) {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("vipd-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) +
              ".toml"))
                .string();
    std::ofstream(path_) << text;
  }
  ~ConfigFile() { std::filesystem::remove(path_); }
  ConfigFile(const ConfigFile&) = delete;
  ConfigFile& operator=(const ConfigFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Defaults, AreIpfailoversWhenNothingIsSet) {
  ScopedEnvironment env;
  const Parsed parsed = parse_like_main({"run"});
  ASSERT_TRUE(parsed.errors.empty()) << joined(parsed.errors);
  const RunOptions& o = parsed.options;
  EXPECT_EQ(o.vips, "");
  EXPECT_EQ(o.interface, "");
  EXPECT_EQ(o.vip_groups, 0);
  EXPECT_EQ(o.vrrp_id_offset, 10);
  EXPECT_EQ(o.excluded_vrids, "");
  EXPECT_EQ(o.replica_count, 1);
  EXPECT_EQ(o.priority, 0);
  EXPECT_EQ(o.preemption, "preempt_delay 300");
  EXPECT_EQ(o.config_name, "OpenShift-IPFailover");
  EXPECT_EQ(o.monitor_port, "80");
  EXPECT_EQ(o.check_interval, "2");
  EXPECT_EQ(o.check_script, "");
  EXPECT_EQ(o.notify_script, "");
  EXPECT_EQ(o.unicast_peers, "");
  EXPECT_EQ(o.vrrp_version, 2);
  EXPECT_EQ(o.advert_interval, "1");
  EXPECT_FALSE(o.no_bpf);
  EXPECT_EQ(o.log_level, "info");
  EXPECT_EQ(o.log_format, "text");
  EXPECT_EQ(o.monitor_service, "");
  EXPECT_EQ(o.node_name, "");
  EXPECT_EQ(o.k8s_api_host, "");
  EXPECT_EQ(o.k8s_api_port, "443");
  EXPECT_EQ(o.k8s_service_account_dir, "/var/run/secrets/kubernetes.io/serviceaccount");
  EXPECT_EQ(o.k8s_api_grace, "60");
  EXPECT_EQ(o.monitor_url, "");
  EXPECT_EQ(o.check_expect_status, 200);
}

// One option seen through every layer. The file key alternates between the long option name and
// the environment name, as both are accepted.
struct Layered {
  const char* flag;      // long flag
  const char* env_name;  // environment name
  const char* file_key;
  const char* file_value;  // TOML literal
  const char* env_value;
  const char* flag_value;
  std::function<std::string(const RunOptions&)> read;
  const char* default_value;
  const char* from_file;  // what `read` gives for file_value
};

class Precedence : public testing::TestWithParam<Layered> {};

TEST_P(Precedence, FlagOverEnvironmentOverFileOverDefault) {
  const Layered& c = GetParam();
  ScopedEnvironment env;
  {
    const Parsed parsed = parse_like_main({"run"});
    ASSERT_TRUE(parsed.errors.empty()) << joined(parsed.errors);
    EXPECT_EQ(c.read(parsed.options), c.default_value) << "default";
  }
  const ConfigFile file(std::string(c.file_key) + " = " + c.file_value + "\n");
  {
    const Parsed parsed = parse_like_main({"run", "--config", file.path()});
    ASSERT_TRUE(parsed.errors.empty()) << joined(parsed.errors);
    EXPECT_EQ(c.read(parsed.options), c.from_file) << "file over default";
  }
  env.set(c.env_name, c.env_value);
  {
    const Parsed parsed = parse_like_main({"run", "--config=" + file.path()});
    ASSERT_TRUE(parsed.errors.empty()) << joined(parsed.errors);
    EXPECT_EQ(c.read(parsed.options), c.env_value) << "environment over file";
  }
  {
    const Parsed parsed = parse_like_main(
        {"run", "--config", file.path(), std::string("--") + c.flag + "=" + c.flag_value});
    ASSERT_TRUE(parsed.errors.empty()) << joined(parsed.errors);
    EXPECT_EQ(c.read(parsed.options), c.flag_value) << "flag over environment";
  }
  {
    const Parsed parsed = parse_like_main({"check-config", "--json", std::string("--") + c.flag,
                                           c.flag_value, "--config", file.path()});
    ASSERT_TRUE(parsed.errors.empty()) << joined(parsed.errors);
    EXPECT_EQ(c.read(parsed.options), c.flag_value) << "check-config reads the same way";
  }
}

std::string text(int value) {
  return std::to_string(value);
}

INSTANTIATE_TEST_SUITE_P(
    Options, Precedence,
    testing::Values(
        Layered{"vips", "OPENSHIFT_HA_VIRTUAL_IPS", "OPENSHIFT_HA_VIRTUAL_IPS",
                "\"198.18.0.10-12, 198.18.0.20\"", "198.18.1.1", "198.18.2.2",
                [](const RunOptions& o) { return o.vips; }, "", "198.18.0.10-12, 198.18.0.20"},
        Layered{"vip-groups", "OPENSHIFT_HA_VIP_GROUPS", "vip-groups", "2", "3", "4",
                [](const RunOptions& o) { return text(o.vip_groups); }, "0", "2"},
        Layered{"vrrp-id-offset", "OPENSHIFT_HA_VRRP_ID_OFFSET", "OPENSHIFT_HA_VRRP_ID_OFFSET",
                "20", "30", "40", [](const RunOptions& o) { return text(o.vrrp_id_offset); }, "10",
                "20"},
        Layered{"excluded-vrids", "HA_EXCLUDED_VRRP_IDS", "HA_EXCLUDED_VRRP_IDS", "\"12 13\"",
                "14,15", "16", [](const RunOptions& o) { return o.excluded_vrids; }, "", "12 13"},
        Layered{"replica-count", "OPENSHIFT_HA_REPLICA_COUNT", "replica_count", "2", "3", "4",
                [](const RunOptions& o) { return text(o.replica_count); }, "1", "2"},
        Layered{"priority", "VIPD_PRIORITY", "priority", "100", "150", "200",
                [](const RunOptions& o) { return text(o.priority); }, "0", "100"},
        Layered{"preemption", "OPENSHIFT_HA_PREEMPTION", "OPENSHIFT_HA_PREEMPTION", "\"nopreempt\"",
                "preempt_delay 10", "preempt", [](const RunOptions& o) { return o.preemption; },
                "preempt_delay 300", "nopreempt"},
        Layered{"config-name", "OPENSHIFT_HA_CONFIG_NAME", "config-name", "\"from-file\"",
                "from-env", "from-flag", [](const RunOptions& o) { return o.config_name; },
                "OpenShift-IPFailover", "from-file"},
        Layered{"monitor-port", "OPENSHIFT_HA_MONITOR_PORT", "OPENSHIFT_HA_MONITOR_PORT", "8080",
                "0", "443", [](const RunOptions& o) { return o.monitor_port; }, "80", "8080"},
        Layered{"check-interval", "OPENSHIFT_HA_CHECK_INTERVAL", "check_interval", "\"0.5\"", "3",
                "4", [](const RunOptions& o) { return o.check_interval; }, "2", "0.5"},
        Layered{"unicast-peers", "OPENSHIFT_HA_UNICAST_PEERS", "OPENSHIFT_HA_UNICAST_PEERS",
                "\"198.18.0.2,198.18.0.3\"", "198.18.0.4", "198.18.0.5",
                [](const RunOptions& o) { return o.unicast_peers; }, "", "198.18.0.2,198.18.0.3"},
        Layered{"unicast-source-address", "UNICAST_SOURCE_IPADDRESS", "UNICAST_SOURCE_IPADDRESS",
                "\"198.18.0.7\"", "198.18.0.8", "198.18.0.9",
                [](const RunOptions& o) { return o.unicast_source_address; }, "", "198.18.0.7"},
        Layered{"interface", "OPENSHIFT_HA_NETWORK_INTERFACE", "interface", "\"eth1\"", "eth2",
                "eth3", [](const RunOptions& o) { return o.interface; }, "", "eth1"},
        Layered{"advert-interval", "VIPD_ADVERT_INTERVAL", "VIPD_ADVERT_INTERVAL", "\"0.1\"", "0.2",
                "0.3", [](const RunOptions& o) { return o.advert_interval; }, "1", "0.1"},
        Layered{"log-level", "VIPD_LOG_LEVEL", "log-level", "\"debug\"", "warn", "error",
                [](const RunOptions& o) { return o.log_level; }, "info", "debug"},
        Layered{"log-format", "VIPD_LOG_FORMAT", "log_format", "\"json\"", "text", "json",
                [](const RunOptions& o) { return o.log_format; }, "text", "json"},
        Layered{"monitor-service", "OPENSHIFT_HA_MONITOR_SERVICE", "OPENSHIFT_HA_MONITOR_SERVICE",
                "\"shop/web\"", "shop/api", "shop/db",
                [](const RunOptions& o) { return o.monitor_service; }, "", "shop/web"},
        Layered{"node-name", "OPENSHIFT_HA_NODE_NAME", "node-name", "\"worker-0\"", "worker-1",
                "worker-2", [](const RunOptions& o) { return o.node_name; }, "", "worker-0"},
        Layered{"k8s-api-host", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_HOST",
                "\"198.18.0.1\"", "198.18.0.2", "198.18.0.3",
                [](const RunOptions& o) { return o.k8s_api_host; }, "", "198.18.0.1"},
        Layered{"k8s-api-port", "KUBERNETES_SERVICE_PORT", "k8s_api_port", "6443", "8443", "9443",
                [](const RunOptions& o) { return o.k8s_api_port; }, "443", "6443"},
        Layered{"k8s-api-grace", "VIPD_K8S_API_GRACE", "k8s-api-grace", "30", "45", "90",
                [](const RunOptions& o) { return o.k8s_api_grace; }, "60", "30"},
        Layered{"monitor-url", "OPENSHIFT_HA_MONITOR_URL", "monitor_url",
                "\"http://198.18.0.11:32000/healthz\"", "http://198.18.0.12:32000/",
                "http://198.18.0.13:32000/", [](const RunOptions& o) { return o.monitor_url; }, "",
                "http://198.18.0.11:32000/healthz"}),
    [](const testing::TestParamInfo<Layered>& param_info) {
      std::string name;
      for (const char c : std::string(param_info.param.flag)) name += c == '-' ? '_' : c;
      return name;
    });

TEST(PrecedenceFlags, BooleanFlagLayers) {
  ScopedEnvironment env;
  const ConfigFile file("no-bpf = true\nVIPD_NO_AUTH = true\n");
  Parsed parsed = parse_like_main({"run", "--config", file.path()});
  ASSERT_TRUE(parsed.errors.empty()) << joined(parsed.errors);
  EXPECT_TRUE(parsed.options.no_bpf);
  EXPECT_TRUE(parsed.options.no_auth);

  env.set("VIPD_NO_BPF", "false");
  parsed = parse_like_main({"run", "--config", file.path()});
  ASSERT_TRUE(parsed.errors.empty()) << joined(parsed.errors);
  EXPECT_FALSE(parsed.options.no_bpf);
  EXPECT_TRUE(parsed.options.no_auth);

  parsed = parse_like_main({"run", "--config", file.path(), "--no-bpf"});
  ASSERT_TRUE(parsed.errors.empty()) << joined(parsed.errors);
  EXPECT_TRUE(parsed.options.no_bpf);
}

TEST(ConfigFileKeys, EnvironmentNamesLongNamesAndTomlForms) {
  ScopedEnvironment env;
  const ConfigFile file(R"(# vipd configuration
OPENSHIFT_HA_VIRTUAL_IPS = "198.18.0.10-12, 198.18.0.20"
OPENSHIFT_HA_VIP_GROUPS = 2
HA_EXCLUDED_VRRP_IDS = "12 13"
OPENSHIFT_HA_PREEMPTION = "preempt_delay 60"
monitor-port = "8443"
check_interval = "0.5"
check-rise = 3
unicast-peers = ["198.18.0.2", "198.18.0.3"]
no-bpf = true
xdp_mode = "generic"
OPENSHIFT_HA_ADMIN_EMAILS = "root@localhost"
)");
  const Parsed parsed = parse_like_main({"run", "--config", file.path()});
  ASSERT_TRUE(parsed.errors.empty()) << joined(parsed.errors);
  const RunOptions& o = parsed.options;
  EXPECT_EQ(o.vips, "198.18.0.10-12, 198.18.0.20");
  EXPECT_EQ(o.vip_groups, 2);
  EXPECT_EQ(o.excluded_vrids, "12 13");
  EXPECT_EQ(o.preemption, "preempt_delay 60");
  EXPECT_EQ(o.monitor_port, "8443");
  EXPECT_EQ(o.check_interval, "0.5");
  EXPECT_EQ(o.check_rise, 3);
  EXPECT_EQ(o.unicast_peers, "198.18.0.2 198.18.0.3");  // a TOML array: one list
  EXPECT_TRUE(o.no_bpf);
  EXPECT_EQ(o.xdp_mode, "generic");
  EXPECT_EQ(o.admin_emails, "root@localhost");
  EXPECT_EQ(ignored_settings(o), (std::vector<std::string>{"OPENSHIFT_HA_ADMIN_EMAILS"}));
}

TEST(ConfigFileKeys, FilePassDoesNotReadTheEnvironment) {
  ScopedEnvironment env;
  env.set("OPENSHIFT_HA_VIP_GROUPS", "3");
  const ConfigFile file("vips = \"198.18.0.1\"\n");
  RunOptions o;
  ASSERT_TRUE(apply_config_file(file.path(), o).empty());
  EXPECT_EQ(o.vips, "198.18.0.1");
  EXPECT_EQ(o.vip_groups, 0);
}

struct FileErrorCase {
  const char* text;
  const char* message;
};

class ConfigFileErrors : public testing::TestWithParam<FileErrorCase> {};

TEST_P(ConfigFileErrors, NameTheProblem) {
  ScopedEnvironment env;
  const ConfigFile file(GetParam().text);
  const Parsed parsed = parse_like_main({"run", "--config", file.path()});
  ASSERT_FALSE(parsed.errors.empty());
  const std::string all = joined(parsed.errors);
  EXPECT_NE(all.find(GetParam().message), std::string::npos) << all;
  EXPECT_NE(all.find(file.path()), std::string::npos) << all;
}

INSTANTIATE_TEST_SUITE_P(Files, ConfigFileErrors,
                         testing::Values(FileErrorCase{"vips = \"198.18.0.1\"\nbogus_key = 1\n",
                                                       "unknown setting 'bogus_key'"},
                                         FileErrorCase{"OPENSHIFT_HA_VIRTUAL_IP = \"198.18.0.1\"\n",
                                                       "unknown setting 'OPENSHIFT_HA_VIRTUAL_IP'"},
                                         FileErrorCase{"config = \"/etc/other.toml\"\n",
                                                       "unknown setting 'config'"},
                                         FileErrorCase{"vip-groups = \"many\"\n", "many"},
                                         FileErrorCase{"xdp-mode = \"turbo\"\n", "turbo"}));

TEST(ConfigFileErrors, EveryUnknownKeyIsReported) {
  const ConfigFile file("first_unknown = 1\nvips = \"198.18.0.1\"\nsecond-unknown = 2\n");
  RunOptions o;
  const std::vector<std::string> errors = apply_config_file(file.path(), o);
  ASSERT_EQ(errors.size(), 2u) << joined(errors);
  EXPECT_NE(errors[0].find("'first_unknown'"), std::string::npos);
  EXPECT_NE(errors[1].find("'second-unknown'"), std::string::npos);
  EXPECT_EQ(o.vips, "");  // nothing applied from a file with errors
}

TEST(ConfigFileErrors, UnreadableFile) {
  RunOptions o;
  const std::vector<std::string> errors = apply_config_file("/nonexistent/vipd.toml", o);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "cannot read config file /nonexistent/vipd.toml");
}

TEST(ConfigPath, FlagOverEnvironment) {
  ScopedEnvironment env;
  const char* with_space[] = {"vipd", "run", "--config", "/a.toml"};
  const char* with_equals[] = {"vipd", "run", "--config=/b.toml"};
  const char* without[] = {"vipd", "run"};
  EXPECT_EQ(find_config_path(4, with_space), "/a.toml");
  EXPECT_EQ(find_config_path(3, with_equals), "/b.toml");
  EXPECT_EQ(find_config_path(2, without), "");
  env.set("VIPD_CONFIG", "/env.toml");
  EXPECT_EQ(find_config_path(2, without), "/env.toml");
  EXPECT_EQ(find_config_path(4, with_space), "/a.toml");
}

TEST(ConfigPath, ConfigFileNamedByTheEnvironment) {
  ScopedEnvironment env;
  const ConfigFile file("OPENSHIFT_HA_VIRTUAL_IPS = \"198.18.0.30\"\n");
  env.set("VIPD_CONFIG", file.path());
  const Parsed parsed = parse_like_main({"run"});
  ASSERT_TRUE(parsed.errors.empty()) << joined(parsed.errors);
  EXPECT_EQ(parsed.options.vips, "198.18.0.30");
}

TEST(Flags, BadFlagValueIsAParseError) {
  ScopedEnvironment env;
  env.set("OPENSHIFT_HA_VIP_GROUPS", "three");
  const Parsed parsed = parse_like_main({"run"});
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_NE(parsed.errors[0].find("three"), std::string::npos) << parsed.errors[0];
}

TEST(Flags, EveryIpfailoverVariableIsBound) {
  const std::vector<std::string> names = testing_env::bound_environment_names();
  for (const char* name : {"OPENSHIFT_HA_CONFIG_NAME",
                           "OPENSHIFT_HA_VIRTUAL_IPS",
                           "OPENSHIFT_HA_VIP_GROUPS",
                           "OPENSHIFT_HA_VRRP_ID_OFFSET",
                           "HA_EXCLUDED_VRRP_IDS",
                           "OPENSHIFT_HA_REPLICA_COUNT",
                           "OPENSHIFT_HA_PREEMPTION",
                           "OPENSHIFT_HA_NETWORK_INTERFACE",
                           "OPENSHIFT_HA_MONITOR_PORT",
                           "OPENSHIFT_HA_CHECK_SCRIPT",
                           "OPENSHIFT_HA_CHECK_INTERVAL",
                           "OPENSHIFT_HA_NOTIFY_SCRIPT",
                           "OPENSHIFT_HA_UNICAST_PEERS",
                           "OPENSHIFT_HA_USE_UNICAST",
                           "UNICAST_SOURCE_IPADDRESS",
                           "MULTICAST_SOURCE_IPADDRESS",
                           "OPENSHIFT_HA_IPTABLES_CHAIN",
                           "OPENSHIFT_HA_NFTABLES_RULE",
                           "OPENSHIFT_HA_ADMIN_EMAILS",
                           "OPENSHIFT_HA_SMTP_SERVER",
                           "OPENSHIFT_HA_SELECTOR",
                           "KEEPALIVED_OPTIONS",
                           "VIPD_PRIORITY",
                           "VIPD_CONFIG"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  // vipd's own options use VIPD_ names; only ipfailover's keep theirs, and the API server's
  // address keeps the names the kubelet gives every pod (what client-go's in-cluster config reads).
  for (const std::string& name : names) {
    const bool ipfailover = name.rfind("OPENSHIFT_HA_", 0) == 0 || name == "HA_EXCLUDED_VRRP_IDS" ||
                            name == "UNICAST_SOURCE_IPADDRESS" ||
                            name == "MULTICAST_SOURCE_IPADDRESS" || name == "KEEPALIVED_OPTIONS";
    const bool pod = name == "KUBERNETES_SERVICE_HOST" || name == "KUBERNETES_SERVICE_PORT";
    EXPECT_TRUE(ipfailover || pod || name.rfind("VIPD_", 0) == 0) << name;
  }
}

}  // namespace
}  // namespace vipd::config
