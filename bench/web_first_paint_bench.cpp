// web_first_paint: runs bench/web_first_paint.mjs (headless Chromium against a real
// `hearth serve`) with this build's hearth binary and web bundle; its last line, one JSON
// object of figures, is this benchmark's last line.
#include <cstdlib>
#include <string>

int main() {
  std::string command = std::string("node '") + HEARTH_SOURCE_DIR + "/bench/web_first_paint.mjs' '" + HEARTH_BINARY +
                        "' '" + HEARTH_WEB_DIR + "'";
  int rc = std::system(command.c_str());
  return rc == 0 ? 0 : 1;
}
