// The agent's terminals: see terminals.h.
#include "sandbox/acp/terminals.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "sandbox/acp/client.h"
#include "sandbox/exec.h"

namespace hearth::sandbox::acp {

Json Terminal::output() const {
  std::lock_guard lock(mu_);
  return {{"output", output_}, {"truncated", truncated_}, {"exitStatus", exit_status()}};
}

Json Terminal::wait_for_exit() const {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return done_; });
  return exit_status();
}

void Terminal::append(std::string_view data) {
  std::lock_guard lock(mu_);
  output_.append(data);
  if (output_.size() > limit_) {
    auto cut = output_.size() - limit_;
    while (cut < output_.size() && (static_cast<unsigned char>(output_[cut]) & 0xC0) == 0x80) ++cut;  // UTF-8 boundary
    output_.erase(0, cut);
    truncated_ = true;
  }
}

Json Terminal::exit_status() const {
  if (!done_) return nullptr;
  bool signalled = exit_code_ && *exit_code_ > 128;
  return Json{{"exitCode", signalled ? Json(nullptr) : Json(exit_code_.value_or(-1))},
              {"signal", signalled ? Json("SIGKILL") : Json(nullptr)}};
}

Json Terminals::create(const Json& p) {
  {
    std::lock_guard lock(mu_);
    if (terminals_.size() >= kMaxTerminals)
      throw std::invalid_argument(fmt::format("the agent has {} terminals, the most it may have; release one first",
                                              kMaxTerminals));
  }
  ExecRequest r;
  // With args, the command is a program; without, agents send a whole shell line
  // (Claude Code does): it runs with the sandbox's sh, as one argument, never spliced
  // into a command line of ours.
  auto command = p.at("command").get<std::string>();
  auto args = p.value("args", Json::array());
  if (args.empty()) {
    r.argv = {"/bin/sh", "-c", command};
  } else {
    r.argv.push_back(command);
    for (const auto& a : args) r.argv.push_back(a.get<std::string>());
  }
  // The agent's own environment, as a process it started itself would inherit, with
  // the terminal's variables on top.
  r.env = agent_.env;
  for (const auto& e : p.value("env", Json::array())) {
    auto name = e.at("name").get<std::string>();
    std::erase_if(r.env, [&](const std::string& kv) { return kv.rfind(name + "=", 0) == 0; });
    r.env.push_back(name + "=" + e.at("value").get<std::string>());
  }
  // The agent's cwd (an absolute path as it sees the work dir) becomes a relative one.
  auto inside = provider_.work_dir_inside(dir_);
  auto cwd = p.value("cwd", inside);
  auto rel = std::filesystem::path(cwd).lexically_normal().lexically_relative(inside).string();
  r.cwd = rel == "." ? "" : rel;
  r.network = agent_.network;
  r.egress_socket = agent_.egress_socket;  // under proxy: the same way out as the agent's
  r.egress_relay = agent_.egress_relay;
  r.cgroup_procs = agent_.cgroup_procs;  // the sandbox's ceilings cover its commands too
  r.user = agent_.user;
  auto t = std::make_shared<Terminal>();
  // An agent may ask for less output to be kept, never more than the default: 16
  // terminals are 16 times it, at most, in the server's memory.
  if (p.contains("outputByteLimit") && p["outputByteLimit"].is_number_unsigned())
    t->limit_ = std::clamp<std::size_t>(p["outputByteLimit"].get<std::size_t>(), 1, t->limit_);
  std::string id;
  {
    std::lock_guard lock(mu_);
    id = fmt::format("term-{}", ++count_);
    terminals_[id] = t;
  }
  // The runner holds no reference of its own: the Terminal (its owner) joins it when it
  // goes, which is never on the runner's own thread.
  t->runner_ = std::jthread([&provider = provider_, &dir = dir_, term = t.get(), r](std::stop_token) {
    auto outcome = run(provider, dir, r, "", [&](int, std::string_view data) { term->append(data); },
                       term->stop_.get_token());
    if (!outcome) term->append(outcome.error().message + "\n");
    std::lock_guard lock(term->mu_);
    term->exit_code_ = outcome ? outcome->exit_code : 127;
    term->done_ = true;
    term->done_cv_.notify_all();
  });
  return {{"terminalId", id}};
}

std::shared_ptr<Terminal> Terminals::find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = terminals_.find(id);
  return it == terminals_.end() ? nullptr : it->second;
}

void Terminals::release(const std::string& id) {
  std::shared_ptr<Terminal> t;
  {
    std::lock_guard lock(mu_);
    auto it = terminals_.find(id);
    if (it == terminals_.end()) return;
    t = std::move(it->second);
    terminals_.erase(it);
  }
  t->kill();
  t.reset();  // when the last reference: joins the runner here, outside the lock
}

void Terminals::stop_all() {
  std::lock_guard lock(mu_);
  for (auto& [id, t] : terminals_) t->kill();
}

void Terminals::clear() {
  std::map<std::string, std::shared_ptr<Terminal>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(terminals_);
  }
  all.clear();  // joins the runners, outside the lock
}

}  // namespace hearth::sandbox::acp
