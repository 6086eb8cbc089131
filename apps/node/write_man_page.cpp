// write_man_page FILE: writes chorus-node(1) from the node's option table (a build step: the
// man_page target runs it at every build, so the page never lags behind the options).

#include <fstream>
#include <iostream>

#include "chorus/config/node_man_page.hpp"
#include "chorus/config/node_options.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: write_man_page FILE\n";
    return 2;
  }
  // The installed default, whatever CHORUS_DEFAULT_CONFIG says in the build's environment.
  chorus::config::NodeCommandLine command_line(chorus::config::kDefaultConfigPath);
  std::ofstream out(argv[1], std::ios::trunc);
  out << chorus::config::node_man_page(command_line.app(), CHORUS_VERSION);
  out.close();
  if (!out) {
    std::cerr << "write_man_page: cannot write " << argv[1] << "\n";
    return 1;
  }
  return 0;
}
