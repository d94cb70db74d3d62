// A full sync of an organization's GitHub data: see github_sync.h.
#include "actors/github_data/github_sync.h"

#include <fmt/format.h>

#include "github/app.h"

namespace hearth::actors::github_data {
namespace {

constexpr std::size_t kRowsPerPage = 100;

}  // namespace

Json repository_row(const Json& r) {
  return Json{{"id", r.value("id", std::int64_t{0})},
              {"full_name", r.value("full_name", std::string())},
              {"clone_url", r.value("clone_url", std::string())},
              {"default_branch", r.value("default_branch", std::string())},
              {"private", r.value("private", false)},
              {"archived", r.value("archived", false)}};
}

namespace {

Json pull_row(const Json& repo, const Json& p) {
  auto text = [](const Json& j, const char* k) { return j.contains(k) && j[k].is_string() ? j[k] : Json(""); };
  return Json{{"repo_id", repo["id"]},
              {"repo_full_name", repo["full_name"]},
              {"number", p.value("number", std::int64_t{0})},
              {"title", text(p, "title")},
              {"state", p.value("draft", false) ? "draft" : "open"},
              {"head_ref", text(p.value("head", Json::object()), "ref")},
              {"head_sha", text(p.value("head", Json::object()), "sha")},
              {"base_ref", text(p.value("base", Json::object()), "ref")},
              {"author", text(p.value("user", Json::object()), "login")},
              {"url", text(p, "html_url")},
              {"updated_at", text(p, "updated_at")}};
}

// Sends one page to the actor, on disk before this returns.
Status report(Host& host, const SyncPlan& plan, Json page) {
  page["generation"] = plan.generation;
  auto r = host.send(plan.actor, kSyncPage, page);
  if (!r) return r.error();
  return {};
}

// `rows` in pages of kRowsPerPage under `key`, with the phase's progress.
Status report_rows(Host& host, const SyncPlan& plan, const char* phase, const char* key, const Json& rows,
                   std::size_t processed_before, std::optional<std::size_t> total) {
  for (std::size_t i = 0; i < rows.size(); i += kRowsPerPage) {
    Json chunk = Json::array();
    for (std::size_t j = i; j < std::min(rows.size(), i + kRowsPerPage); ++j) chunk.push_back(rows[j]);
    Json page{{"phase", phase}, {"processed", processed_before + i + chunk.size()}, {key, chunk}};
    if (total) page["total"] = *total;
    if (auto st = report(host, plan, page); !st) return st;
  }
  return {};
}

}  // namespace

Result<Json> run_sync(github::App& app, Host& host, const SyncPlan& plan, std::stop_token stop) {
  if (auto st = report(host, plan, {{"phase", "discovering_repositories"}, {"processed", 0}}); !st) return st.error();
  auto repos = app.get_all(plan.installation_id, {{}, {{"metadata", "read"}}}, "/installation/repositories",
                           "repositories", {}, stop);
  if (!repos) return repos.error();
  Json rows = Json::array();
  for (const auto& r : *repos) rows.push_back(repository_row(r));
  if (auto st = report_rows(host, plan, "repositories", "repositories", rows, 0, rows.size()); !st) return st.error();

  std::size_t members = 0;
  if (plan.account_type == "Organization") {
    if (auto st = report(host, plan, {{"phase", "members"}, {"processed", 0}}); !st) return st.error();
    auto people = app.get_all(plan.installation_id, {{}, {{"members", "read"}}},
                              fmt::format("/orgs/{}/members", plan.account_login), {}, {}, stop);
    if (!people) return people.error();
    Json logins = Json::array();
    for (const auto& m : *people)
      logins.push_back({{"login", m.value("login", std::string())},
                        {"github_id", m.contains("id") && m["id"].is_number_integer() ? m["id"] : Json()},
                        {"role", "member"}});
    members = logins.size();
    if (auto st = report_rows(host, plan, "members", "members", logins, 0, logins.size()); !st) return st.error();
  }

  std::size_t pulls = 0;
  if (auto st = report(host, plan, {{"phase", "pull_requests"}, {"processed", 0}, {"total", rows.size()}}); !st)
    return st.error();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& repo = rows[i];
    auto full = repo["full_name"].get<std::string>();
    auto name = full.substr(full.find('/') + 1);
    // A token for this repository alone, reading pull requests only.
    auto open = app.get_all(plan.installation_id, {{name}, {{"pull_requests", "read"}}},
                            fmt::format("/repos/{}/pulls?state=open&sort=updated&direction=desc", full), {}, {}, stop);
    if (!open) return open.error();
    Json page_rows = Json::array();
    for (const auto& p : *open) page_rows.push_back(pull_row(repo, p));
    pulls += page_rows.size();
    Json page{{"phase", "pull_requests"}, {"processed", i + 1}, {"total", rows.size()}, {"pulls", Json::array()}};
    if (page_rows.empty()) {
      if (auto st = report(host, plan, page); !st) return st.error();
      continue;
    }
    for (std::size_t j = 0; j < page_rows.size(); j += kRowsPerPage) {
      Json chunk = Json::array();
      for (std::size_t k = j; k < std::min(page_rows.size(), j + kRowsPerPage); ++k) chunk.push_back(page_rows[k]);
      page["pulls"] = chunk;
      if (auto st = report(host, plan, page); !st) return st.error();
    }
  }
  return Json{{"repositories", rows.size()}, {"members", members}, {"pull_requests", pulls}};
}

}  // namespace hearth::actors::github_data
