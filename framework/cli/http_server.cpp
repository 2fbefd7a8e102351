#include "http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "recforge/serve/elastic_thread_pool.hpp"
#include "recforge/serve/request_head.hpp"

namespace recforge::cli {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

thread_local bool t_close_after_response = false;
// The connection answered the current request itself (serve::HeadGuard).
thread_local bool t_refused_by_connection = false;

// Waits up to `timeout` for `events` on `fd`; false on timeout or error.
bool wait_for(int fd, short events, milliseconds timeout) {
  for (;;) {
    if (timeout.count() <= 0) return false;
    const auto start = Clock::now();
    pollfd p{.fd = fd, .events = events, .revents = 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(timeout.count(), 1 << 30)));
    if (rc > 0) return true;  // readable, writable, or hung up: the next call says which
    if (rc == 0 || errno != EINTR) return false;
    timeout -= std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  }
}

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  auto* raw = reinterpret_cast<sockaddr*>(&address);
  if ((peer ? ::getpeername(fd, raw, &length) : ::getsockname(fd, raw, &length)) != 0) return;
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    ::inet_ntop(AF_INET, &v4->sin_addr, text.data(), text.size());
    port = ntohs(v4->sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, text.data(), text.size());
    port = ntohs(v6->sin6_port);
  }
  ip = text.data();
}

// A refusal written by the connection itself, before httplib has a request.
std::string raw_response(const serve::HttpResponse& r) {
  const char* reason = r.status == 431 ? "Request Header Fields Too Large" : "Bad Request";
  return "HTTP/1.1 " + std::to_string(r.status) + " " + reason + "\r\nContent-Type: " + r.content_type +
         "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n" + r.body;
}

// A connection's socket as httplib reads it. Reads are buffered (httplib
// reads header lines a byte at a time) and fail once the current request's
// deadline has passed, whatever the client trickles; the buffer carries
// pipelined bytes over to the next request. The head of each request passes
// serve::HeadGuard: a refused one is answered here, and httplib's reads and
// writes fail from then on.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int fd, milliseconds write_timeout, const std::atomic<socket_t>& listener)
      : fd_(fd), write_timeout_(write_timeout), listener_(listener) {}

  void start_request(Clock::time_point deadline) {
    deadline_ = deadline;
    guard_.start();
    t_refused_by_connection = false;
  }
  bool has_buffered() const { return begin_ < end_; }
  // The status of the refusal this stream answered itself, or 0.
  int refused_status() const { return refused_status_; }

  bool is_readable() const override { return has_buffered() || wait_readable(); }
  bool is_writable() const override { return wait_for(fd_, POLLOUT, write_timeout_); }

  ssize_t read(char* out, size_t size) override {
    if (refused_status_ != 0) return -1;
    const ssize_t n = read_bytes(out, size);
    if (n <= 0) return n;
    if (const auto refusal = guard_.feed(out, static_cast<size_t>(n))) {
      refused_status_ = refusal->status;
      t_refused_by_connection = true;
      const std::string response = raw_response(*refusal);
      for (size_t sent = 0; sent < response.size();) {
        const ssize_t w = send_some(response.data() + sent, response.size() - sent);
        if (w <= 0) break;
        sent += static_cast<size_t>(w);
      }
      return -1;
    }
    return n;
  }

  ssize_t write(const char* data, size_t size) override {
    if (refused_status_ != 0) return -1;  // (httplib's own answer to the failed read)
    return send_some(data, size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

 private:
  ssize_t read_bytes(char* out, size_t size) {
    if (!has_buffered()) {
      if (!wait_readable()) return -1;
      if (size >= buffer_.size()) return receive(out, size);  // large body reads skip the copy
      const ssize_t n = receive(buffer_.data(), buffer_.size());
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, end_ - begin_);
    std::memcpy(out, buffer_.data() + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t send_some(const char* data, size_t size) const {
    if (!is_writable()) return -1;
    ssize_t n;
    do n = ::send(fd_, data, size, MSG_NOSIGNAL);  // a vanished client is an error, not SIGPIPE
    while (n < 0 && errno == EINTR);
    return n;
  }

  // Until the request's deadline, in slices: a stopping server (its listener
  // closed) does not wait for a client in the middle of a slow request.
  bool wait_readable() const {
    while (listener_ != INVALID_SOCKET) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline_ - Clock::now()) + milliseconds(1);
      if (left.count() <= 0) return false;
      if (wait_for(fd_, POLLIN, std::min(left, milliseconds(50)))) return true;
    }
    return false;
  }
  ssize_t receive(char* out, size_t size) {
    ssize_t n;
    do n = ::recv(fd_, out, size, 0);
    while (n < 0 && errno == EINTR);
    return n;
  }

  int fd_;
  milliseconds write_timeout_;
  const std::atomic<socket_t>& listener_;
  Clock::time_point deadline_ = Clock::now();
  std::array<char, 4096> buffer_{};
  size_t begin_ = 0, end_ = 0;
  serve::HeadGuard guard_;
  int refused_status_ = 0;
};

// After a refused request the client may still be sending the body the
// server did not read; closing at once would answer it with a reset that can
// destroy the response before the client reads it. Stop sending, then read
// and drop what arrives until the client closes (bounded in time and bytes).
void close_lingering(int fd) {
  ::shutdown(fd, SHUT_WR);
  const auto deadline = Clock::now() + milliseconds(2000);
  std::array<char, 4096> sink;
  for (std::size_t dropped = 0; dropped < (std::size_t{16} << 20);) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (!wait_for(fd, POLLIN, left)) break;
    const ssize_t n = ::recv(fd, sink.data(), sink.size(), 0);
    if (n <= 0) break;
    dropped += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

// httplib hands every accepted connection to its task queue.
class ConnectionThreads final : public httplib::TaskQueue {
 public:
  ConnectionThreads(int standing, int max)
      : pool_({.min_threads = std::min(standing, max), .max_threads = max}) {}
  void enqueue(std::function<void()> task) override { pool_.submit(std::move(task)); }
  void shutdown() override { pool_.shutdown(); }

 private:
  serve::ElasticThreadPool pool_;
};

}  // namespace

HttpServer::HttpServer(HttpServerLimits limits) : limits_(limits) {
  new_task_queue = [this] { return new ConnectionThreads(limits_.standing_threads, limits_.max_connections); };
}

int HttpServer::bind(const std::string& host, int port, int backlog) {
  if (port == 0) {
    port = bind_to_any_port(host);
  } else if (!bind_to_port(host, port)) {
    return -1;
  }
  // listen() again on a listening socket only changes its backlog.
  if (port > 0 && ::listen(svr_sock_, backlog) != 0) return -1;
  return port;
}

void HttpServer::close_after_response() { t_close_after_response = true; }

bool HttpServer::refused_by_connection() { return t_refused_by_connection; }

bool HttpServer::wait_for_next_request(socket_t sock) const {
  // In short slices, so that a stopping server does not wait out idle clients.
  const auto deadline = Clock::now() + limits_.idle_timeout;
  while (svr_sock_ != INVALID_SOCKET) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    if (wait_for(sock, POLLIN, std::min(left, milliseconds(50)))) return true;
  }
  return false;
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  // Responses go out as header and body writes: without TCP_NODELAY, Nagle and
  // the client's delayed ACK add ~40 ms to every keep-alive request.
  const int on = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  ConnectionStream stream(sock, limits_.write_timeout, svr_sock_);
  bool refused = false;
  for (int served = 0; served < limits_.max_requests_per_connection; ++served) {
    if (!stream.has_buffered() && !wait_for_next_request(sock)) break;
    stream.start_request(Clock::now() + limits_.request_timeout);
    t_close_after_response = false;
    const bool last = served + 1 == limits_.max_requests_per_connection || svr_sock_ == INVALID_SOCKET;
    bool connection_closed = false;
    const bool ok = process_request(stream, last, connection_closed, [](httplib::Request&) {});
    refused = t_close_after_response || stream.refused_status() != 0;
    if (stream.refused_status() != 0 && on_refused_) on_refused_(stream.refused_status());
    if (!ok || connection_closed || refused || last) break;
  }
  if (refused) {
    close_lingering(sock);
  } else {
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
  }
  return true;
}

}  // namespace recforge::cli
