// `recforge serve`'s HTTP server: cpp-httplib parses and routes requests; this
// class owns the connections. httplib's own connection loop (0.11) lets a
// client take unlimited time to send its headers a byte at a time, keeps a
// connection open after a refused request (whose unread body it then parses
// as the next request), and runs connections on a fixed pool that a few idle
// clients hold hostage. Here each connection
//   - runs on a thread of its own from an elastic pool, up to max_connections;
//   - must deliver each whole request (line, headers, body) within
//     request_timeout, however it trickles;
//   - closes, after draining what the client still sends, once a handler
//     called close_after_response();
//   - waits at most idle_timeout for its next request, and stops waiting as
//     soon as the server stops.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <string>

namespace recforge::cli {

struct HttpServerLimits {
  int standing_threads = 16;
  int max_connections = 512;
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds idle_timeout{2000};
  std::chrono::milliseconds write_timeout{5000};
  int max_requests_per_connection = 100;
};

class HttpServer : public httplib::Server {
 public:
  explicit HttpServer(HttpServerLimits limits);

  // Binds like bind_to_port (port 0: any free port); returns the port, or -1.
  // httplib listens with a backlog of 5: a burst of connections beyond it
  // would wait for the client's SYN retransmission (1 s, then 3 s, ...).
  int bind(const std::string& host, int port, int backlog = 1024);

  // From a handler: the connection closes once this response is written.
  static void close_after_response();
  // From httplib's error handler: whether the connection already answered
  // this request itself (httplib then fails to read it and calls the handler,
  // whose answer goes nowhere and must not be counted twice).
  static bool refused_by_connection();
  // Told the status of each request the connection refused itself (its head
  // too large, a Range header: serve::HeadGuard), for the server's counters.
  void on_refused(std::function<void(int status)> counter) { on_refused_ = std::move(counter); }

 private:
  bool process_and_close_socket(socket_t sock) override;
  bool wait_for_next_request(socket_t sock) const;

  HttpServerLimits limits_;
  std::function<void(int)> on_refused_;
};

}  // namespace recforge::cli
