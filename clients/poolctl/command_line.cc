#include "clients/poolctl/command_line.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "accel/hal/types.h"

namespace accel::poolctl {
namespace {

std::string Env(const char* name, const char* otherwise) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : otherwise;
}

// Every option name of `app` (not its positionals), for completion.
std::vector<std::string> OptionNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* option : app.get_options()) {
    if (!option->nonpositional()) continue;
    for (const std::string& s : option->get_snames()) names.push_back("-" + s);
    for (const std::string& l : option->get_lnames()) names.push_back("--" + l);
  }
  return names;
}

// A bash completion function from the app's own verbs and options: after
// the words of a verb path, its sub-verbs and options.
std::string BashCompletion(CLI::App& app) {
  std::vector<std::string> paths;  // "/tenant/create"
  std::string cases;
  const std::vector<std::string> global = OptionNames(app);
  std::function<void(CLI::App&, const std::string&)> walk = [&](CLI::App& at,
                                                                const std::string& path) {
    std::vector<std::string> words;
    for (CLI::App* sub : at.get_subcommands([](CLI::App*) { return true; })) {
      words.push_back(sub->get_name());
      paths.push_back(path + "/" + sub->get_name());
      for (const std::string& alias : sub->get_aliases()) {
        words.push_back(alias);
        paths.push_back(path + "/" + alias);
      }
      walk(*sub, path + "/" + sub->get_name());
    }
    std::vector<std::string> offered = words;
    for (const std::string& o : OptionNames(at)) offered.push_back(o);
    if (&at != &app) {
      for (const std::string& o : global) {
        if (std::find(offered.begin(), offered.end(), o) == offered.end()) offered.push_back(o);
      }
    }
    absl::StrAppend(&cases, "    \"", path, "\") opts=\"", absl::StrJoin(offered, " "), "\" ;;\n");
  };
  walk(app, "");
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  return absl::StrCat(
      "# bash completion for poolctl: source it, or install it as\n"
      "# /usr/share/bash-completion/completions/poolctl\n"
      "_poolctl() {\n"
      "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" path=\"\" w opts\n"
      "  for w in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do\n"
      "    case \"$path/$w\" in\n"
      "      ",
      absl::StrJoin(paths, "|"), ") path=\"$path/$w\" ;;\n",
      "    esac\n"
      "  done\n"
      "  # A release is a revoke.\n"
      "  path=${path/\\/lease\\/release/\\/lease\\/revoke}\n"
      "  case \"$path\" in\n",
      cases,
      "  esac\n"
      "  COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
      "}\n"
      "complete -F _poolctl poolctl\n");
}

}  // namespace

std::variant<CommandLine, Stop> ParseCommandLine(int argc, char** argv) {
  CommandLine cl;
  cl.pool = Env("ACCEL_POOL", "127.0.0.1:7070");
  cl.token = Env("ACCEL_POOL_TOKEN", "");
  cl.tls = pool::TlsFilesFromEnvironment();

  CLI::App app{
      "poolctl: the operator's view of an accelpool pool. Without a token, for a pool on "
      "this host named by one address, poolctl uses the pool's admin socket, where root, "
      "poold's user and the admin group are operators.",
      "poolctl"};
  app.require_subcommand(1);
  app.fallthrough();  // global options after the verb too
  app.add_option("--pool", cl.pool,
                 "the pool: HOST:PORT, or a highly available pool's coordinators as "
                 "HOST:PORT,HOST:PORT (default: $ACCEL_POOL, else 127.0.0.1:7070)");
  std::string token_file, format = "table";
  app.add_option("--token", cl.token,
                 "the operator's token, or a tenant's (default: $ACCEL_POOL_TOKEN); prefer "
                 "--token_file: the command line is visible to every user of this host")
      ->each([](const std::string&) {
        std::fprintf(stderr,
                     "poolctl: warning: a token on the command line is visible to every user "
                     "of this host (ps, /proc); use --token_file or ACCEL_POOL_TOKEN\n");
      });
  app.add_option("--token_file", token_file, "a file holding the token");
  app.add_option("--tls_ca", cl.tls.ca, "PEM CA of the pool's certificates ($ACCEL_POOL_TLS_CA)");
  app.add_option("--tls_cert", cl.tls.cert,
                 "PEM client certificate, where the pool asks for one ($ACCEL_POOL_TLS_CERT)");
  app.add_option("--tls_key", cl.tls.key, "its private key ($ACCEL_POOL_TLS_KEY)");
  app.add_option("--admin_socket", cl.admin_socket,
                 "the pool's admin socket (default: found by the pool's port); 'none': TCP");
  app.add_option("-o,--output", format, "table or json")->check(CLI::IsMember({"table", "json"}));

  app.add_subcommand("status", "the coordinators, which one leads, and the state store");
  app.add_subcommand("nodes", "the pool's nodes");
  app.add_subcommand("devices", "every device: memory used, leased and total, its leases");
  app.add_subcommand("leases", "live and queued leases, with why they are where they are");
  CLI::App* lease = app.add_subcommand("lease", "one lease");
  lease->require_subcommand(1);
  lease->add_subcommand("revoke", "ends a lease now (its session's work is lost)")
      ->alias("release")
      ->add_option("ID", cl.argument, "the lease")
      ->required();
  lease->add_subcommand("explain", "why a lease is where it is, or why it waits")
      ->add_option("ID", cl.argument, "the lease")
      ->required();
  app.add_subcommand("cordon", "no new leases on a node")
      ->add_option("NODE", cl.argument, "the node")
      ->required();
  for (const char* name : {"uncordon", "undrain"}) {
    app.add_subcommand(name, "new leases on a node again")
        ->add_option("NODE", cl.argument, "the node")
        ->required();
  }
  app.add_subcommand("drain", "cordons a node, then revokes its leases")
      ->add_option("NODE", cl.argument, "the node")
      ->required();
  CLI::App* top = app.add_subcommand("top", "the devices, redrawn every interval");
  top->add_option("--interval", cl.interval_seconds, "seconds between redraws (default 2)")
      ->check(CLI::Range(0.01, 3600.0));
  top->add_option("--iterations", cl.iterations, "redraws, then exit (default: until ^C)")
      ->check(CLI::NonNegativeNumber);
  app.add_subcommand("tenants", "the tenants and their quotas' use");
  CLI::App* tenant = app.add_subcommand("tenant", "one tenant");
  tenant->require_subcommand(1);
  int32_t priority = 0;
  uint32_t devices = 0, leases = 0;
  std::string memory, isolation;
  double kernel_seconds = 0;
  for (const char* name : {"create", "update"}) {
    const bool create = std::string(name) == "create";
    CLI::App* verb = tenant->add_subcommand(
        name, create ? "a new tenant; its token is printed once"
                     : "changes only the options given (--rotate-token: a new token)");
    verb->add_option("NAME", cl.argument, "the tenant")->required();
    verb->add_option("--priority", priority, "its queue priority (higher goes first)");
    verb->add_option("--devices", devices, "the most devices it may hold (0: no limit)");
    verb->add_option("--memory", memory, "the most memory it may hold, e.g. 40GiB")
        ->check(CLI::Validator(
            [](std::string& value) {
              absl::StatusOr<uint64_t> bytes = hal::ParseByteSize(value);
              return bytes.ok() ? std::string() : std::string(bytes.status().message());
            },
            "SIZE"));
    verb->add_option("--leases", leases, "the most live or queued leases (0: no limit)");
    verb->add_option("--isolation", isolation,
                     "device: its devices are shared with no other tenant's leases")
        ->check(CLI::IsMember({"device", "shared"}));
    verb->add_option("--max-kernel-seconds", kernel_seconds,
                     "the longest one launch may run, in place of the pool's limits")
        ->check(CLI::Range(0.0, 86400.0));
    if (!create) verb->add_flag("--rotate-token", cl.rotate_token, "issue a new token");
  }
  tenant->add_subcommand("delete", "removes a tenant; its leases end")
      ->add_option("NAME", cl.argument, "the tenant")
      ->required();
  CLI::App* audit = app.add_subcommand("audit", "the audit log (poold --audit_log)");
  audit->require_subcommand(1);
  audit->add_subcommand("verify", "checks the log's chain; no pool is asked")
      ->add_option("FILE", cl.argument, "the log")
      ->required();
  std::string shell;
  CLI::App* completion =
      app.add_subcommand("completion", "prints a shell completion script: poolctl completion bash");
  completion->add_option("SHELL", shell, "bash")->required()->check(CLI::IsMember({"bash"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // A misspelt verb is left over, and CLI11 would only say a verb is
    // missing: name the word instead.
    const std::vector<std::string> left = app.remaining(true);
    if (e.get_exit_code() != 0 && !left.empty()) {
      std::fprintf(stderr, "poolctl: '%s' is not a verb or option here (--help lists them)\n",
                   left.front().c_str());
      return Stop{2};
    }
    const int code = app.exit(e);  // prints help, or the error naming the bad word
    return Stop{code == 0 ? 0 : 2};
  }
  if (completion->parsed()) {
    std::printf("%s", BashCompletion(app).c_str());
    return Stop{0};
  }
  for (const CLI::App* at = &app; !at->get_subcommands().empty();) {
    at = at->get_subcommands()[0];
    absl::StrAppend(&cl.verb, cl.verb.empty() ? "" : " ", at->get_name());
  }
  cl.json = format == "json";
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    std::string line;
    if (!in || !std::getline(in, line)) {
      std::fprintf(stderr, "poolctl: cannot read --token_file %s\n", token_file.c_str());
      return Stop{1};
    }
    cl.token = std::string(absl::StripAsciiWhitespace(line));
  }
  if (cl.verb == "tenant create" || cl.verb == "tenant update") {
    const CLI::App* verb = tenant->get_subcommands()[0];
    auto given = [&](const char* option) { return verb->count(option) > 0; };
    if (given("--priority")) cl.priority = priority;
    if (given("--devices")) cl.max_devices = devices;
    if (given("--leases")) cl.max_leases = leases;
    if (given("--memory")) cl.max_memory = *hal::ParseByteSize(memory);
    if (given("--isolation")) cl.device_isolation = isolation == "device";
    if (given("--max-kernel-seconds")) {
      cl.max_kernel_ms = static_cast<uint32_t>(kernel_seconds * 1000);
    }
  }
  return cl;
}

}  // namespace accel::poolctl
