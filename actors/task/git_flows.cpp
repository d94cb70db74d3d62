// A task's git flows: see git_flows.h.
#include "actors/task/git_flows.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>
#include <map>

#include "actors/github_data/github_data_actor.h"
#include "actors/sandbox/sandbox_runtime.h"
#include "github/app.h"
#include "sandbox/git.h"

namespace hearth::actors::task {

// In the agent's repository (worktree): hooks and fsmonitor off where git lets us say
// so, though whatever the agent configured runs with the agent's own powers only.
const std::string_view kWorktreePrelude = R"SH(set -e
g() { git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c commit.gpgSign=false "$@"; }
commit_all() {
  if [ -n "$(g status --porcelain)" ]; then
    g add -A
    g commit -q -m "$MSG"
    echo "committed $(g rev-parse HEAD)"
  fi
}
base_from_mirror() { g fetch -q --no-tags --upload-pack "$HEARTH_UPLOAD_PACK" "$HEARTH_MIRROR" "+refs/heads/$BASE:refs/remotes/origin/$BASE"; }
# A sync's rebase that the server's stop cut off (its marker is still there) is undone
# before anything else, and said: never a half-rebased branch nobody mentions.
ours=$(g rev-parse --git-path hearth-rebase)
if [ -e "$ours" ]; then
  g rebase --abort >/dev/null 2>&1 || true
  rm -f "$ours"
  echo "undid the rebase of a sync that a server restart cut off; the branch is as it was before it"
fi
)SH";

// Onto the latest base; or, with $THEIRS, onto the branch as someone else pushed it to
// origin (fetched into the mirror's refs/hearth/theirs): their commits come first, the
// agent's own not yet pushed go on top, and the next push fast-forwards.
const std::string_view kSyncScript = R"SH(commit_all
if [ -n "$THEIRS" ]; then
  g fetch -q --no-tags --upload-pack "$HEARTH_UPLOAD_PACK" "$HEARTH_MIRROR" "+refs/hearth/theirs:refs/remotes/origin/$BRANCH"
  onto="refs/remotes/origin/$BRANCH"
else
  base_from_mirror
  onto="refs/remotes/origin/$BASE"
fi
: > "$ours"
if ! g rebase -q "$onto" >/dev/null 2>&1; then
  files=$(g diff --name-only --diff-filter=U)
  g rebase --abort
  rm -f "$ours"
  printf 'CONFLICT\n%s\n' "$files"
  exit 3
fi
rm -f "$ours"
echo "rebased $(g rev-parse HEAD)"
)SH";

// Exits kUnchanged, touching nothing, when the file (tracked or not) is as in the base.
const std::string_view kRevertScript = R"SH(base=$(g merge-base HEAD "refs/remotes/origin/$BASE")
if g diff --quiet "$base" -- "$FILE" && [ -z "$(g ls-files --others --exclude-standard -- "$FILE")" ]; then
  echo "no change to $FILE"
  exit 3
fi
if g cat-file -e "$base:$FILE" 2>/dev/null; then
  g checkout -q "$base" -- "$FILE"
else
  g rm -q --cached --ignore-unmatch -- "$FILE"
  rm -f -- "$FILE"
fi
echo "reverted $FILE"
)SH";

// In the mirror (import): the agent's HEAD fetched into $REF through upload-pack in its
// repository, then (with $DIFF) the work tree as it is (untracked files too, through
// Hearth's own index) against the merge base with the base branch. The index is kept
// between runs, so that unchanged files are not hashed again; read-tree -i leaves the work
// tree out of its merge, which would otherwise refuse an entry a flow changed within the
// same second as the last run ("not uptodate", racy git) and leave the diff stale.
// The agent's repository is named by $GIT_WORK_TREE (/workspace in the sandbox).
const std::string_view kImportScript = R"SH(set -e
g() { git -c core.hooksPath=/dev/null -c core.fsmonitor=false "$@"; }
g fetch -q --no-write-fetch-head --no-tags --no-recurse-submodules "$GIT_WORK_TREE/.git" "+HEAD:$REF"
head=$(g rev-parse "$REF")
printf 'HEAD %s\n' "$head"
[ -n "$DIFF" ] || exit 0
base=$(g merge-base "$head" "refs/heads/$BASE")
printf 'BASE %s\n' "$base"
g read-tree -i -m "$head"
g -c core.excludesFile="$GIT_WORK_TREE/.git/info/exclude" add -A
printf '\036NUMSTAT\n'; g diff --cached --no-renames --numstat -z "$base"
printf '\036STATUS\n'; g diff --cached --no-renames --name-status -z "$base"
printf '\036PATCH\n'; g diff --cached --no-renames --no-color --no-ext-diff --no-textconv "$base"
)SH";

namespace {

namespace sb = hearth::sandbox;

constexpr std::size_t kPatchKept = 64 * 1024;     // per file, in the database
constexpr std::size_t kPatchesKept = 512 * 1024;  // all files of one diff

std::string tidy(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A git step's failure, in git's words.
Error failed(const std::string& kind, const sb::GitOutput& out) {
  auto text = tidy(out.out);
  auto why = tidy(out.err.empty() ? text : out.err + (text.empty() ? "" : "\n" + text));
  return Error{ErrorCode::conflict, fmt::format("git {} failed (exit {}): {}", kind, out.exit_code, why)};
}

// The value after "<key> " on its own line of `out`.
std::string line_value(const std::string& out, const std::string& key) {
  auto at = out.rfind(key + " ", 0) == 0 ? 0 : out.find("\n" + key + " ");
  if (at == std::string::npos) return {};
  if (at != 0) ++at;
  auto start = at + key.size() + 1;
  return out.substr(start, out.find('\n', start) - start);
}

// The pull request of the plan's branch into its base, opened through the GitHub App
// (the repository is the one its credential, "github:<id>", names).
Result<Json> open_pull(sandbox::Runtime& rt, const GitPlan& plan, std::stop_token stop) {
  if (!plan.git_credential.starts_with("github:"))
    return Error{ErrorCode::conflict, "the task's repository is not connected through GitHub; pull requests are "
                                      "opened on GitHub repositories"};
  if (!rt.config().github)
    return Error{ErrorCode::unavailable, "the GitHub App is not configured on this server (see docs/github.md)"};
  std::int64_t repo_id = 0;
  auto digits = std::string_view(plan.git_credential).substr(7);
  if (std::from_chars(digits.data(), digits.data() + digits.size(), repo_id).ec != std::errc{})
    return Error{ErrorCode::internal, "a GitHub repository credential names no repository"};
  github_data::PullDraft draft{plan.branch, plan.base, plan.args.value("title", plan.title),
                               plan.args.value("body", std::string()), plan.args.value("draft", false)};
  return github_data::open_pull(rt.host(), *rt.config().github, plan.org_id, repo_id, draft, stop);
}

}  // namespace

namespace {

// The import script's sections, read in order. NUMSTAT's and STATUS's records end in NUL
// (no path holds one), and a marker is looked for only where a record begins with a
// count or a status letter: a file name holding "\036PATCH\n" (the agent names files)
// moves no section. PATCH is the rest, whatever its bytes.
struct DiffSections {
  std::vector<std::string_view> numstat;  // "added\tremoved\tpath"
  std::vector<std::pair<std::string_view, std::string_view>> status;  // code, path
  std::string_view patch;
};

DiffSections diff_sections(std::string_view out) {
  DiffSections d;
  auto at = out.find("\036NUMSTAT\n");
  if (at == std::string_view::npos) return d;
  auto rest = out.substr(at + 9);
  auto record = [&rest](std::string_view& into) {
    auto nul = rest.find('\0');
    if (nul == std::string_view::npos) return false;  // cut off: what came whole is kept
    into = rest.substr(0, nul);
    rest.remove_prefix(nul + 1);
    return true;
  };
  for (std::string_view r; !rest.starts_with("\036STATUS\n");) {
    if (!record(r)) return d;
    d.numstat.push_back(r);
  }
  rest.remove_prefix(8);
  for (std::string_view code, path; !rest.starts_with("\036PATCH\n");) {
    if (!record(code) || !record(path)) return d;
    d.status.emplace_back(code, path);
  }
  d.patch = rest.substr(7);
  return d;
}

std::optional<std::int64_t> count_of(std::string_view text) {
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end != text.data() + text.size() || n < 0) return std::nullopt;
  return n;
}

}  // namespace

Json parse_diff(const std::string& out) {
  Json result{{"base_commit", nullptr}, {"head_commit", nullptr}, {"files", Json::array()}};
  if (auto b = line_value(out, "BASE"); !b.empty()) result["base_commit"] = b;
  if (auto h = line_value(out, "HEAD"); !h.empty()) result["head_commit"] = h;
  auto sections = diff_sections(out);
  std::map<std::string, Json> files;
  std::vector<std::string> order;
  for (const auto& [code, path_view] : sections.status) {
    std::string path(path_view);
    if (files.count(path)) continue;
    files[path] = Json{{"path", path}, {"status", std::string(code.substr(0, 1))}, {"added", nullptr},
                       {"removed", nullptr}, {"patch", ""}, {"patch_truncated", false}};
    order.push_back(path);
  }
  for (auto line : sections.numstat) {
    auto t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    if (t1 == std::string_view::npos || t2 == std::string_view::npos) continue;
    auto path = std::string(line.substr(t2 + 1));
    if (!files.count(path)) continue;
    auto added = count_of(line.substr(0, t1)), removed = count_of(line.substr(t1 + 1, t2 - t1 - 1));
    if (added && removed) {  // "-\t-" for a binary file: no counts
      files[path]["added"] = *added;
      files[path]["removed"] = *removed;
    }
  }
  // The patch, split at each "diff --git"; files come in the same order as above.
  auto patch = sections.patch;
  std::size_t kept = 0, index = 0, pos = 0;
  while (pos < patch.size() && index < order.size()) {
    auto next = patch.find("\ndiff --git ", pos + 1);
    auto end = next == std::string_view::npos ? patch.size() : next + 1;
    auto piece = patch.substr(pos, end - pos);
    auto& f = files[order[index++]];
    if (piece.size() > kPatchKept || kept + piece.size() > kPatchesKept) {
      f["patch_truncated"] = true;
    } else {
      f["patch"] = std::string(piece);
      kept += piece.size();
    }
    pos = end;
  }
  for (const auto& path : order) result["files"].push_back(files[path]);
  return result;
}

Json parse_conflicts(std::string_view out) {
  Json files = Json::array();
  auto at = out.find("CONFLICT\n");
  if (at == std::string_view::npos) return files;
  auto rest = out.substr(at + 9);
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    auto line = rest.substr(0, nl);
    if (!line.empty()) files.push_back(std::string(line));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  return files;
}

Result<Json> run_git_flow(sandbox::Runtime& rt, const GitPlan& plan, std::stop_token server_stop) {
  auto provider = rt.provider(plan.provider);
  if (!provider) return provider.error();
  sb::ExecRequest base;
  if (auto st = rt.prepare(plan.sandbox, base); !st) return st.error();
  // Pushing flows write to the remote and sync reads it; the others stay in the sandbox
  // and need no credential (so they work while GitHub is down or the repository left the
  // installation).
  bool pushes = plan.kind == GitFlow::push || plan.kind == GitFlow::pr;
  bool writes = pushes || plan.kind == GitFlow::merge;
  bool remote_flow = writes || plan.kind == GitFlow::sync;
  auto origin = rt.origin(plan.org_id, plan.repo_url, remote_flow ? plan.git_credential : std::string(),
                          writes ? sandbox::GitAccess::write : sandbox::GitAccess::read, server_stop);
  if (!origin) return origin.error();
  sb::SandboxGit git(**provider, rt.dir(plan.sandbox), base, *origin);

  std::stop_source stop;
  std::stop_callback forward(server_stop, [&] { stop.request_stop(); });
  const std::string kind(to_string(plan.kind));
  auto tracked = rt.track(plan.sandbox, "git " + kind, [stop]() mutable { stop.request_stop(); });
  auto token = stop.get_token();
  auto message = plan.args.value("message", std::string());
  if (message.empty()) message = fmt::format("{}\n\nHearth task {}", plan.title, plan.task_id);
  const bool theirs = plan.kind == GitFlow::sync && plan.args.value("theirs", false);
  const std::vector<std::string> env{"MSG=" + message, "BASE=" + plan.base, "BRANCH=" + plan.branch,
                                     "FILE=" + plan.args.value("path", std::string()),
                                     std::string("THEIRS=") + (theirs ? "1" : "")};
  Json result = Json::object();
  std::string output;
  auto say = [&](const std::string& text) {
    if (!text.empty()) output += (output.empty() ? "" : "\n") + text;
  };
  auto interrupted = [&] {
    return Error{ErrorCode::interrupted, "interrupted: the server stopped during git " + kind};
  };

  // Each step: git's words on failure; a stop of the server ends the flow.
  auto worktree = [&](std::string_view script) -> Result<sb::GitOutput> {
    auto out = git.worktree(std::string(kWorktreePrelude).append(script), env, token);
    if (!out) return out.error();
    if (server_stop.stop_requested()) return interrupted();
    return out;
  };
  auto remote = [&](std::vector<std::string> args) -> Result<sb::GitOutput> {
    auto out = git.remote(std::move(args), token);
    if (!out) return out.error();
    if (server_stop.stop_requested()) return interrupted();
    if (out->exit_code != 0) return failed(kind, *out);
    return out;
  };
  // The agent's HEAD into the mirror: its commit id; with `diff`, the diff too.
  auto import = [&](bool diff) -> Result<std::string> {
    auto ref = plan.kind == GitFlow::diff ? "diff" : "flow";
    auto out = git.import(std::string(kImportScript),
                          {fmt::format("REF=refs/hearth/{}", ref), std::string("DIFF=") + (diff ? "1" : ""),
                           "BASE=" + plan.base, fmt::format("GIT_INDEX_FILE=/run/hearth/mirror/state/index-{}", ref)},
                          token);
    if (!out) return out.error();
    if (server_stop.stop_requested()) return interrupted();
    if (out->exit_code != 0) {
      if (!diff) return failed(kind, *out);
      if (plan.kind == GitFlow::diff) return Error{ErrorCode::unavailable, "git diff failed: " + tidy(out->err)};
      result["diff_error"] = tidy(out->err);
      return std::string();
    }
    if (diff) {
      result["diff"] = parse_diff(out->out);
      result["diff"]["truncated"] = out->truncated;
    }
    return line_value(out->out, "HEAD");
  };

  if (plan.kind == GitFlow::commit || pushes || plan.kind == GitFlow::merge) {
    auto committed = worktree("commit_all\n");
    if (!committed) return committed.error();
    if (committed->exit_code != 0) return failed(kind, *committed);
    say(tidy(committed->out));
  } else if (plan.kind == GitFlow::revert) {
    auto reverted = worktree(kRevertScript);
    if (!reverted) return reverted.error();
    if (reverted->exit_code != 0 && reverted->exit_code != kUnchanged) return failed(kind, *reverted);
    result["reverted"] = reverted->exit_code == 0;
    say(tidy(reverted->out));
  } else if (plan.kind == GitFlow::sync) {
    auto fetched = theirs ? remote({"fetch", "-q", "--no-write-fetch-head", "--no-tags", "origin",
                                    "+refs/heads/" + plan.branch + ":refs/hearth/theirs"})
                          : remote({"fetch", "-q", "--no-write-fetch-head", "--update-head-ok", "--no-tags", "origin",
                                    "+refs/heads/" + plan.base + ":refs/heads/" + plan.base});
    if (!fetched) return fetched.error();
    if (theirs) result["took_theirs"] = true;
    auto synced = worktree(kSyncScript);
    if (!synced) return synced.error();
    auto text = tidy(synced->out);
    if (synced->exit_code == kConflicted) {
      result["conflict_files"] = parse_conflicts(text);
    } else if (synced->exit_code != 0) {
      return failed(kind, *synced);
    }
    say(text);
  }

  if (pushes) {
    auto head = import(true);
    if (!head) return head.error();
    if (head->empty()) return Error{ErrorCode::conflict, "git push failed: " + result.value("diff_error", std::string())};
    auto pushed = remote({"push", "-q", "origin", "+" + *head + ":refs/heads/" + plan.branch});
    if (!pushed) return pushed.error();
    say("pushed " + *head);
    result["pushed_head"] = *head;
    if (plan.kind == GitFlow::pr) {
      auto pull = open_pull(rt, plan, server_stop);
      if (!pull) return Error{pull.error().code, "pushed " + *head + "; " + pull.error().message};
      say(fmt::format("{} pull request #{}: {}", (*pull)["linked"].get<bool>() ? "linked" : "opened",
                      (*pull)["number"].get<std::int64_t>(), (*pull)["url"].get<std::string>()));
      result["pull"] = std::move(*pull);
    }
  } else if (plan.kind == GitFlow::merge) {
    auto head = import(false);
    if (!head) return head.error();
    auto fetched = remote({"fetch", "-q", "--no-write-fetch-head", "--update-head-ok", "--no-tags", "origin",
                           "+refs/heads/" + plan.base + ":refs/heads/" + plan.base});
    if (!fetched) return fetched.error();
    auto base_ref = "refs/heads/" + plan.base;
    auto ahead = git.remote({"merge-base", "--is-ancestor", base_ref, *head}, token);
    if (!ahead) return ahead.error();
    if (ahead->exit_code != 0)
      return Error{ErrorCode::conflict, fmt::format("git merge failed (exit 4): {} has commits this branch lacks: the "
                                                    "merge would not fast-forward; sync first", plan.base)};
    auto tip = remote({"rev-parse", base_ref});
    if (!tip) return tip.error();
    if (tidy(tip->out) == *head)
      return Error{ErrorCode::conflict, fmt::format("git merge failed (exit 5): nothing to merge: {} has every commit "
                                                    "of this branch", plan.base)};
    auto pushed = remote({"push", "-q", "origin", *head + ":" + base_ref, "+" + *head + ":refs/heads/" + plan.branch});
    if (!pushed) return pushed.error();
    auto moved = remote({"update-ref", base_ref, *head});
    if (!moved) return moved.error();
    auto taken = worktree("base_from_mirror\n");
    if (!taken) return taken.error();
    if (taken->exit_code != 0) return failed(kind, *taken);
    say("merged " + *head);
  }
  if (!pushes) {
    auto head = import(true);
    if (!head) return head.error();
  }
  if (plan.kind != GitFlow::diff) result["output"] = output;
  return result;
}

}  // namespace hearth::actors::task
