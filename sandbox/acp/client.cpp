// The ACP client: see client.h.
//
// One reader thread owns the agent's stdout and stderr: it splits stdout into lines,
// hands responses to the request waiting for them, passes session/update to the
// callback, and starts a thread per agent request (a permission request or
// terminal/wait_for_exit may block for a long time). Writes to stdin are serialized.
#include "sandbox/acp/client.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sandbox/acp/terminals.h"
#include "sandbox/exec.h"
#include "sandbox/workdir_fs.h"

namespace hearth::sandbox::acp {

struct AgentConnection::Impl {
  const Provider& provider;
  SandboxDir dir;
  AgentSpec spec;
  AgentCallbacks callbacks;
  WorkdirFs fs;
  std::unique_ptr<Process> agent;

  std::mutex write_mu;
  std::mutex mu;
  std::condition_variable answered;
  std::map<std::int64_t, Json> answers;
  std::int64_t next_id = 0;
  bool exited = false;
  std::string protocol_error;  // what the agent wrote that is not ACP
  std::string stderr_tail;     // the last few KiB the agent wrote on stderr
  bool replaying = false;      // during session/load: updates are history, not passed on
  bool loaded = false;
  // How long the start took: to initialize's answer, then to the session's (new or load).
  std::chrono::steady_clock::time_point spawned, initialized, opened;
  std::thread reader;
  // Threads serving the agent's requests; finished ones are joined as new ones start, so
  // a long session does not pile up finished threads.
  struct Handler {
    std::shared_ptr<std::atomic<bool>> done = std::make_shared<std::atomic<bool>>(false);
    std::jthread thread;
  };
  std::vector<Handler> handlers;

  Terminals terminals;  // the commands it started (terminal/*)

  std::string session;
  Json info;
  std::vector<pid_t> speakers;  // who may write ACP (mu)
  bool session_open = false;     // (mu)
  std::uint64_t ignored_writes = 0;

  Impl(const Provider& p, SandboxDir d, AgentSpec s, AgentCallbacks c)
      : provider(p), dir(std::move(d)), spec(std::move(s)), callbacks(std::move(c)),
        fs(dir.work(), p.work_dir_inside(dir), p.isolated() ? spec.exec.user : SandboxUser{}),
        terminals(provider, dir, spec.exec) {}

  void send(const Json& msg) {
    std::lock_guard lock(write_mu);
    if (agent) (void)agent->write(msg.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
  }

  std::int64_t send_request(const std::string& method, Json params) {
    std::int64_t id;
    {
      std::lock_guard lock(mu);
      id = next_id++;
    }
    send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    return id;
  }

  // The answer to request `id`; nullopt on timeout, stop, or the agent's end.
  std::optional<Json> wait_answer(std::int64_t id, std::chrono::milliseconds timeout, std::stop_token stop = {}) {
    std::stop_callback wake(stop, [this] {  // before taking mu: it may run right here
      std::lock_guard l(mu);
      answered.notify_all();
    });
    std::unique_lock lock(mu);
    answered.wait_for(lock, timeout, [&] { return answers.count(id) || exited || stop.stop_requested(); });
    if (!answers.count(id)) return std::nullopt;
    auto a = std::move(answers[id]);
    answers.erase(id);
    return a;
  }

  Error gone(const std::string& doing) {
    std::lock_guard lock(mu);
    if (!protocol_error.empty())
      return Error{ErrorCode::unavailable, fmt::format("the agent broke the protocol while {}: {}", doing, protocol_error)};
    if (exited) {
      auto tail = stderr_tail;
      while (!tail.empty() && std::isspace(static_cast<unsigned char>(tail.back()))) tail.pop_back();
      if (tail.size() > 1000) tail = "…" + tail.substr(tail.size() - 1000);
      return Error{ErrorCode::unavailable, tail.empty() ? fmt::format("the agent exited while {}", doing)
                                                        : fmt::format("the agent exited while {}; its stderr ended "
                                                                      "with: {}", doing, tail)};
    }
    return Error{ErrorCode::timeout, fmt::format("the agent did not answer while {}", doing)};
  }

  static Error agent_error(const Json& error) {
    auto message = error.value("message", std::string("error"));
    if (error.contains("data") && error["data"].is_object()) {
      if (error["data"].contains("details") && error["data"]["details"].is_string())
        message += ": " + error["data"]["details"].get<std::string>();
      else if (error["data"].contains("message") && error["data"]["message"].is_string())
        message += ": " + error["data"]["message"].get<std::string>();
    }
    return Error{ErrorCode::unavailable, fmt::format("the agent answered error {}: {}", error.value("code", 0), message)};
  }

  // --- Reading ------------------------------------------------------------------
  void read_loop() {
    std::string pending;
    Chunk chunk;
    for (;;) {
      auto r = agent->read_chunk(std::chrono::milliseconds(200), chunk);
      if (r == Process::Read::eof) break;
      if (r == Process::Read::timeout) continue;
      if (chunk.stream == 2) {
        {
          std::lock_guard lock(mu);
          stderr_tail += chunk.data;
          if (stderr_tail.size() > 4096) stderr_tail.erase(0, stderr_tail.size() - 2048);
        }
        if (callbacks.on_stderr) callbacks.on_stderr(chunk.data);
        continue;
      }
      // ACP comes from the agent, and only from the processes that spoke before its
      // session opened: a process it started later (a test, a build, a hostile repo's
      // script) may have inherited its stdout, but what it writes there is not the
      // agent speaking and is dropped (and said so on stderr).
      if (!trusted_writer(chunk.writer)) continue;
      // Only the new bytes are searched, and what was read is dropped once per chunk:
      // a long line arriving in pieces costs linear time, not quadratic.
      auto searched = pending.size();
      pending += chunk.data;
      std::size_t start = 0, nl;
      while ((nl = pending.find('\n', std::max(start, searched))) != std::string::npos) {
        auto line = pending.substr(start, nl - start);
        start = nl + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        dispatch(line);
      }
      pending.erase(0, start);
      if (pending.size() > kMaxLineBytes) {
        fail_protocol(fmt::format("a line longer than {} MiB", kMaxLineBytes >> 20));
        break;
      }
    }
    std::lock_guard lock(mu);
    exited = true;
    answered.notify_all();
  }

  void open_session() {
    std::lock_guard lock(mu);
    session_open = true;
  }

  // Whether `pid` may speak ACP: the processes that wrote before the session opened.
  bool trusted_writer(pid_t pid) {
    if (pid == 0) return true;  // not known (no credentials): as before
    std::lock_guard lock(mu);
    if (std::find(speakers.begin(), speakers.end(), pid) != speakers.end()) return true;
    if (!session_open) {
      speakers.push_back(pid);
      return true;
    }
    ++ignored_writes;
    if (ignored_writes == 1 || ignored_writes % 100 == 0)
      spdlog::warn("acp.write_ignored pid={} writes={}: a process other than the agent wrote to its stdout", pid,
                   ignored_writes);
    if (ignored_writes == 1)
      stderr_tail += fmt::format("\n[hearth: output of process {} on the agent's stdout ignored: not the agent]\n", pid);
    if (stderr_tail.size() > 4096) stderr_tail.erase(0, stderr_tail.size() - 2048);
    return false;
  }

  void fail_protocol(const std::string& what) {
    std::lock_guard lock(mu);
    if (protocol_error.empty()) protocol_error = what;
    exited = true;
    answered.notify_all();
  }

  void dispatch(const std::string& line) {
    auto msg = Json::parse(line, nullptr, false);
    if (msg.is_discarded() || !msg.is_object()) {
      // Not ACP. Agents must write only ACP to stdout; the turn ends with this error.
      fail_protocol(fmt::format("not JSON-RPC: {:.200}", line));
      return;
    }
    if (!msg.contains("method")) {
      if (msg.contains("id") && msg["id"].is_number_integer()) {
        auto id = msg["id"].get<std::int64_t>();
        std::lock_guard lock(mu);
        answers[id] = std::move(msg);
        answered.notify_all();
      }
      return;
    }
    auto method = msg["method"].is_string() ? msg["method"].get<std::string>() : std::string();
    if (!msg.contains("id")) {
      bool replay;
      {
        std::lock_guard lock(mu);
        replay = replaying;
      }
      if (method == "session/update" && callbacks.on_update && msg.contains("params") && !replay)
        callbacks.on_update(msg["params"].value("update", Json::object()));
      return;  // other notifications are ignored, as ACP allows
    }
    // A request from the agent: served on a thread of its own, a bounded number at once
    // (an agent, or something writing to its stdout, cannot make the server start
    // threads without end).
    std::erase_if(handlers, [](const Handler& h) { return h.done->load(); });  // joins them
    if (handlers.size() >= kMaxRequestsAtOnce) {
      send({{"jsonrpc", "2.0"}, {"id", msg["id"]},
            {"error", {{"code", -32603}, {"message", fmt::format("too many requests at once (at most {}); retry when "
                                                                 "some are answered", kMaxRequestsAtOnce)}}}});
      return;
    }
    Handler h;
    h.thread = std::jthread([this, msg = std::move(msg), method, done = h.done](std::stop_token) {
      serve(msg, method);
      *done = true;
    });
    handlers.push_back(std::move(h));
  }

  // --- Serving the agent's requests ---------------------------------------------------
  void serve(const Json& msg, const std::string& method) {
    const Json& id = msg["id"];
    const Json params = msg.value("params", Json::object());
    auto ok = [&](Json result) { send({{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}}); };
    auto fail = [&](int code, const std::string& message) {
      send({{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
    };
    auto failed = [&](const Error& e) {
      fail(e.code == ErrorCode::not_found ? -32002 : e.code == ErrorCode::invalid ? -32602 : -32603, e.message);
    };
    try {
      if (method == "fs/read_text_file") {
        std::optional<std::int64_t> line, limit;
        if (params.contains("line") && params["line"].is_number_integer()) line = params["line"].get<std::int64_t>();
        if (params.contains("limit") && params["limit"].is_number_integer()) limit = params["limit"].get<std::int64_t>();
        auto text = fs.read(params.at("path").get<std::string>(), line, limit);
        return text ? ok({{"content", *text}}) : failed(text.error());
      }
      if (method == "fs/write_text_file") {
        auto st = fs.write(params.at("path").get<std::string>(), params.at("content").get<std::string>());
        return st ? ok(Json::object()) : failed(st.error());
      }
      if (method == "session/request_permission") {
        Json outcome = callbacks.on_permission ? callbacks.on_permission(params) : Json{{"outcome", "cancelled"}};
        return ok({{"outcome", outcome}});
      }
      if (method == "terminal/create") return ok(terminals.create(params));
      if (method.rfind("terminal/", 0) == 0) {
        auto id = params.value("terminalId", std::string());
        auto t = terminals.find(id);
        if (!t) return fail(-32002, "no such terminal");
        if (method == "terminal/output") return ok(t->output());
        if (method == "terminal/wait_for_exit") return ok(t->wait_for_exit());
        if (method == "terminal/kill") {
          t->kill();
          return ok(Json::object());
        }
        if (method == "terminal/release") {
          t.reset();
          terminals.release(id);  // joins the runner, outside every lock
          return ok(Json::object());
        }
      }
      fail(-32601, "Method not found: " + method);
    } catch (const std::exception& e) {
      fail(-32602, std::string("Invalid params: ") + e.what());
    }
  }

  void end_input() {
    std::lock_guard lock(write_mu);
    if (agent) agent->close_stdin();
  }

  void shutdown() {
    if (agent) {
      end_input();
      // Its output ends when it has (a process it left running may hold it: killed below).
      auto since = std::chrono::steady_clock::now();
      bool ended;
      {
        std::unique_lock lock(mu);
        ended = answered.wait_for(lock, spec.exit_grace, [&] { return exited; });
      }
      if (!ended) spdlog::info("acp.agent_killed after={} ms: it did not end when its input closed", spec.exit_grace.count());
      spdlog::debug("acp.agent_ended in={} ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    std::chrono::steady_clock::now() - since).count());
      agent->kill(SIGKILL);
    }
    if (reader.joinable()) reader.join();
    {
      std::lock_guard lock(mu);
      exited = true;
      answered.notify_all();
    }
    terminals.stop_all();
    // Permission callbacks may block; the owner's callback must return once the agent is gone.
    handlers.clear();  // joins
    terminals.clear();
  }
};

AgentConnection::AgentConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AgentConnection::~AgentConnection() { impl_->shutdown(); }

const std::string& AgentConnection::session_id() const { return impl_->session; }
const Json& AgentConnection::agent_info() const { return impl_->info; }
bool AgentConnection::loaded() const { return impl_->loaded; }
Json AgentConnection::startup_ms() const {
  auto ms = [](auto from, auto to) { return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count(); };
  return {{"initialize", ms(impl_->spawned, impl_->initialized)}, {"session", ms(impl_->initialized, impl_->opened)}};
}
void AgentConnection::kill() {
  if (impl_->agent) impl_->agent->kill(SIGKILL);
}
void AgentConnection::end_input() { impl_->end_input(); }

bool AgentConnection::alive() const {
  std::lock_guard lock(impl_->mu);
  return !impl_->exited;
}

Result<std::unique_ptr<AgentConnection>> AgentConnection::start(const Provider& provider, const SandboxDir& dir,
                                                                AgentSpec spec, AgentCallbacks callbacks) {
  auto impl = std::make_unique<Impl>(provider, dir, std::move(spec), std::move(callbacks));
  auto command = provider.command(dir, impl->spec.exec);
  if (!command) return command.error();
  command->stdout_socket = true;  // whose every chunk is (read_loop)
  impl->spawned = std::chrono::steady_clock::now();
  auto process = Process::spawn(*command);
  if (!process) return process.error();
  impl->agent = std::make_unique<Process>(std::move(*process));
  auto* raw = impl.get();
  impl->reader = std::thread([raw] { raw->read_loop(); });
  std::unique_ptr<AgentConnection> conn(new AgentConnection(std::move(impl)));
  auto& i = *conn->impl_;

  auto init_id = i.send_request(
      "initialize", {{"protocolVersion", 1},
                     {"clientCapabilities", {{"fs", {{"readTextFile", i.spec.serve_fs}, {"writeTextFile", i.spec.serve_fs}}}, {"terminal", true}}},
                     {"clientInfo", {{"name", "hearth"}, {"version", "1"}}}});
  auto init = i.wait_answer(init_id, i.spec.start_timeout);
  if (!init) return i.gone("initializing");
  if (init->contains("error")) return Impl::agent_error((*init)["error"]);
  i.initialized = std::chrono::steady_clock::now();
  i.info = (*init)["result"];
  if (i.info.value("protocolVersion", Json(0)) != 1)
    return Error{ErrorCode::unavailable,
                 fmt::format("the agent speaks ACP protocol {}, Hearth speaks 1", i.info.value("protocolVersion", Json()).dump())};
  auto cwd = provider.work_dir_inside(dir);
  bool can_load = i.info.contains("agentCapabilities") && i.info["agentCapabilities"].is_object() &&
                  i.info["agentCapabilities"].value("loadSession", false);
  if (!i.spec.load_session_id.empty() && can_load) {
    {
      std::lock_guard lock(i.mu);
      i.replaying = true;
    }
    auto load_id = i.send_request("session/load",
                                  {{"sessionId", i.spec.load_session_id}, {"cwd", cwd}, {"mcpServers", Json::array()}});
    auto loaded = i.wait_answer(load_id, i.spec.start_timeout);
    {
      std::lock_guard lock(i.mu);
      i.replaying = false;
    }
    if (!loaded) return i.gone("resuming its session");
    if (!loaded->contains("error")) {
      i.session = i.spec.load_session_id;
      i.loaded = true;
      i.opened = std::chrono::steady_clock::now();
      i.open_session();
      return conn;
    }
    // The agent no longer has that session: a new one it is.
    spdlog::info("acp.session_load_refused session={} error={}", i.spec.load_session_id, (*loaded)["error"].dump());
  }
  auto open = [&]() { return i.wait_answer(i.send_request("session/new", {{"cwd", cwd}, {"mcpServers", Json::array()}}),
                                           i.spec.start_timeout); };
  auto made = open();
  if (made && made->contains("error") && (*made)["error"].value("code", 0) == -32000) {
    // Authentication required: use a method whose environment variables we set.
    for (const auto& m : i.info.value("authMethods", Json::array())) {
      if (!m.is_object() || m.value("type", "") != "env_var" || !m.contains("vars")) continue;
      bool have_all = true;
      for (const auto& v : m["vars"]) {
        auto name = v.is_object() ? v.value("name", "") : "";
        bool have = false;
        for (const auto& e : i.spec.exec.env) have = have || e.rfind(name + "=", 0) == 0;
        have_all = have_all && have && !name.empty();
      }
      if (!have_all) continue;
      auto auth = i.wait_answer(i.send_request("authenticate", {{"methodId", m.value("id", "")}}), i.spec.start_timeout);
      if (!auth) return i.gone("authenticating");
      if (auth->contains("error")) return Impl::agent_error((*auth)["error"]);
      made = open();
      break;
    }
  }
  if (!made) return i.gone("opening a session");
  if (made->contains("error")) return Impl::agent_error((*made)["error"]);
  if (!(*made)["result"].contains("sessionId") || !(*made)["result"]["sessionId"].is_string())
    return Error{ErrorCode::unavailable, "the agent opened a session without a sessionId"};
  i.session = (*made)["result"]["sessionId"].get<std::string>();
  i.opened = std::chrono::steady_clock::now();
  i.open_session();
  return conn;
}

Result<std::string> AgentConnection::prompt(const std::string& text, std::stop_token stop) {
  auto& i = *impl_;
  auto id = i.send_request("session/prompt",
                           {{"sessionId", i.session}, {"prompt", Json::array({{{"type", "text"}, {"text", text}}})}});
  auto answer = i.wait_answer(id, std::chrono::hours(24 * 365), stop);
  if (!answer && stop.stop_requested()) {
    i.send({{"jsonrpc", "2.0"}, {"method", "session/cancel"}, {"params", {{"sessionId", i.session}}}});
    answer = i.wait_answer(id, i.spec.cancel_grace);
    if (!answer) return Error{ErrorCode::timeout, "the agent did not stop within the grace period after cancel"};
  }
  if (!answer) return i.gone("running a turn");
  if (answer->contains("error")) return Impl::agent_error((*answer)["error"]);
  return (*answer)["result"].value("stopReason", std::string("end_turn"));
}

}  // namespace hearth::sandbox::acp
