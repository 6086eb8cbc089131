// The web server's token check: where a request may carry the token, and what does not pass.

#include <catch2/catch.hpp>

#include "chorus/security/cluster_key.hpp"
#include "chorus/web/request_auth.hpp"

using namespace chorus::web;

TEST_CASE("a target splits at its first '?'") {
  CHECK(split_target("/ws?token=a?b").path == "/ws");
  CHECK(split_target("/ws?token=a?b").query == "token=a?b");
  CHECK(split_target("/metrics").path == "/metrics");
  CHECK(split_target("/metrics").query.empty());
}

TEST_CASE("query parameters are found by name and percent-decoded") {
  CHECK(query_parameter("token=abc", "token") == "abc");
  CHECK(query_parameter("a=1&token=x%2By%20z+w&b=2", "token") == "x+y z w");
  CHECK(query_parameter("tokens=abc", "token") == std::nullopt);
  CHECK(query_parameter("a=1", "token") == std::nullopt);
  CHECK(query_parameter("token", "token") == "");
  CHECK(query_parameter("token=%2", "token") == std::nullopt);
  CHECK(query_parameter("token=%zz", "token") == std::nullopt);
  CHECK(query_parameter("", "token") == std::nullopt);
}

TEST_CASE("a bearer token is read from its header, the scheme in any case") {
  CHECK(bearer_token("Bearer abc") == "abc");
  CHECK(bearer_token("bearer  abc ") == "abc");
  CHECK(bearer_token("BEARER abc") == "abc");
  CHECK(bearer_token("Basic abc") == std::nullopt);
  CHECK(bearer_token("Bearer ") == std::nullopt);
  CHECK(bearer_token("Bearer    ") == std::nullopt);
  CHECK(bearer_token("") == std::nullopt);
}

TEST_CASE("without a token everything passes, with one only the same token does") {
  CHECK(authorized(std::nullopt, "", ""));
  const std::optional<std::string> token = "k3y";
  CHECK(authorized(token, "token=k3y", ""));
  CHECK(authorized(token, "", "Bearer k3y"));
  CHECK(authorized(token, "token=wrong", "Bearer k3y"));
  CHECK_FALSE(authorized(token, "", ""));
  CHECK_FALSE(authorized(token, "token=k3", ""));
  CHECK_FALSE(authorized(token, "token=k3yy", ""));
  CHECK_FALSE(authorized(token, "token=K3Y", ""));
  CHECK_FALSE(authorized(token, "token=", "Bearer "));
  CHECK_FALSE(authorized(token, "", "Basic k3y"));
}

TEST_CASE("a WebSocket's Origin must name the host it was sent to") {
  CHECK(same_origin("", "node:8080"));
  CHECK(same_origin("http://node:8080", "node:8080"));
  CHECK(same_origin("https://NODE:8080", "node:8080"));
  CHECK_FALSE(same_origin("http://evil.example", "node:8080"));
  CHECK_FALSE(same_origin("http://node:8081", "node:8080"));
  CHECK_FALSE(same_origin("node:8080", "node:8080"));
  CHECK_FALSE(same_origin("null", "node:8080"));
}

TEST_CASE("a percent-encoded query value decodes to its bytes") {
  CHECK(query_parameter("token=x%20y%2Bz%26%0A", "token") == "x y+z&\n");
}
