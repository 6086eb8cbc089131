#pragma once
// The web page: one HTML document with its CSS and JavaScript inline, built into the binary from
// src/web/page.html (no external resources: it works on a network without the internet).

#include <string_view>

namespace chorus::web {

std::string_view page_html();

}  // namespace chorus::web
