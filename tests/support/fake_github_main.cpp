// The fake GitHub (fake_github.h) as a process, for tests outside C++ (the browser test,
// tests/web/github_ui_test.mjs). Usage:
//   hearth_test_fake_github KEY_FILE INSTALLATION ACCOUNT REPOSITORIES PULLS HOLD_AFTER
// writes the App's private key to KEY_FILE; serves installation INSTALLATION of ACCOUNT
// with REPOSITORIES repositories (repo-00, ...) of PULLS open pull requests each; after
// HOLD_AFTER installation requests (0: never) GitHub answers "secondary rate limit,
// retry after a second" until told `lift`.
// Prints {"url", "app_id", "client_id", "client_secret"} as one line, then reads commands on stdin, one a line:
//   lift          the rate limit ends
//   setup URL     where the install page redirects (the App's callback, with a code of
//                 GitHub user octo-admin, who can see the installation)
//   authorize LOGIN  the GitHub user signed in to GitHub in the browser, whom the OAuth
//                 authorize page sends straight back with a code (octo-dev is a member
//                 of ACCOUNT; anyone else is not)
// and ends at the end of its input.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <string>

#include "tests/support/fake_github.h"

int main(int argc, char** argv) {
  if (argc != 7) {
    std::cerr << "usage: hearth_test_fake_github KEY_FILE INSTALLATION ACCOUNT REPOSITORIES PULLS HOLD_AFTER\n";
    return 2;
  }
  hearth::test::FakeGitHub github;
  std::ofstream(argv[1]) << github.private_key_pem();
  auto installation = std::stoll(argv[2]);
  std::string account = argv[3];
  std::vector<std::string> names;
  for (int i = 0; i < std::stoi(argv[4]); ++i) names.push_back(fmt::format("repo-{:02}", i));
  github.add_installation({.id = installation, .account = account, .repositories = names});
  github.add_user("octo-admin", {installation});  // who installs it, through the install page
  github.add_members(account, {"octo-admin", "octo-dev"});
  for (const auto& n : names) github.add_pull_requests(account + "/" + n, std::stoi(argv[5]));
  if (auto hold = std::stoi(argv[6]); hold > 0) github.hold_after(hold);
  std::cout << nlohmann::json{{"url", github.url()}, {"app_id", github.app_id()},
                              {"client_id", hearth::test::FakeGitHub::kClientId},
                              {"client_secret", hearth::test::FakeGitHub::kClientSecret}}
                   .dump()
            << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
    if (line == "lift") github.lift_limits();
    else if (line.rfind("setup ", 0) == 0) github.set_setup_url(line.substr(6), installation, "octo-admin");
    else if (line.rfind("authorize ", 0) == 0) github.set_authorizing_user(line.substr(10));
    std::cout << "ok " << line << std::endl;
  }
  return 0;
}
