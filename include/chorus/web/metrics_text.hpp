#pragma once
// /metrics: a node's ClusterView in Prometheus' text exposition format (version 0.0.4): every
// metric with its HELP and TYPE lines, names prefixed chorus_, label values escaped. Pure.
// docs/web.md lists the metrics.

#include <string>
#include <string_view>

#include "chorus/control/control_port.hpp"

namespace chorus::web {

/// The Content-Type of the text format.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

/// `value` as a label value inside double quotes: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);

/// Every metric of `view`, one sample per line, ending with a newline.
std::string metrics_text(const control::ClusterView& view);

}  // namespace chorus::web
