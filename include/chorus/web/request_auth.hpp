#pragma once
// Who may use the web page, the WebSocket and /metrics: with a token configured, a request names
// it as `?token=...` in its URL or as `Authorization: Bearer ...`. Pure.

#include <optional>
#include <string>
#include <string_view>

namespace chorus::web {

/// A request target split at its '?': "/ws?token=abc" -> path "/ws", query "token=abc".
struct RequestTarget {
  std::string_view path;
  std::string_view query;
};

RequestTarget split_target(std::string_view target);

/// The value of `name` in a query string ("a=1&token=x%2By" -> "x+y"), percent-decoded ('+' is a
/// space); nullopt when absent or when its escapes are malformed.
std::optional<std::string> query_parameter(std::string_view query, std::string_view name);

/// The token of an Authorization header "Bearer TOKEN" (scheme any case); nullopt otherwise.
std::optional<std::string_view> bearer_token(std::string_view authorization);

/// Whether a request may pass: no token configured, or the request's token (from its query or its
/// Authorization header) equals it. Compared in constant time for tokens of the same length.
bool authorized(const std::optional<std::string>& token, std::string_view query,
                std::string_view authorization);

/// Whether a WebSocket handshake's Origin header names the host it was sent to (its Host header):
/// a page of another site must not drive the cluster with a browser's credentials. A request
/// without Origin (not from a browser) passes.
bool same_origin(std::string_view origin, std::string_view host);

}  // namespace chorus::web
