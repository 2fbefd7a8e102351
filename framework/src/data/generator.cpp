// Synthetic MovieLens-shaped data (see generator.hpp for the model).
#include "recforge/data/generator.hpp"

#include <omp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "recforge/core/error.hpp"
#include "recforge/core/philox.hpp"
#include "data/generator_draws.hpp"

namespace recforge::data {

GeneratorPreset generator_preset(const std::string& name) {
  // Zipf exponents and topic counts calibrated so the share of rows on the top
  // 10% of items is close to the real datasets' (ML-100K: 0.43 real, 0.44 here).
  if (name == "ml25m") return {"ml25m", 162541, 59047, 25000095, 20, 24, 1.3, 1.2};
  if (name == "ml1m") return {"ml1m", 6040, 3706, 1000209, 20, 8, 1.2, 1.0};
  if (name == "ml100k") return {"ml100k", 943, 1682, 100000, 20, 4, 1.2, 0.9};
  if (name == "tiny") return {"tiny", 200, 300, 6000, 10, 4, 1.0, 0.7};
  RF_THROW(ErrorKind::kConfig, "unknown synthetic preset '", name, "' (ml25m, ml1m, ml100k, tiny)");
}

std::vector<std::string> generator_preset_names() { return {"ml25m", "ml1m", "ml100k", "tiny"}; }

namespace {

constexpr std::int64_t kStartTime = 789652009;   // 1995-01-09, the first MovieLens rating
constexpr std::int64_t kEndTime = 1574327703;    // 2019-11-21, the last ML-25M rating

using detail::normal;
using detail::uniform53;
using detail::UserRng;

struct Catalog {
  std::vector<std::int32_t> topic;          // item -> topic
  std::vector<float> quality;               // item -> rating offset
  std::vector<std::vector<std::int32_t>> topic_items;
  std::vector<std::vector<double>> topic_cdf;  // cumulative popularity within a topic
  std::vector<double> global_cdf;
};

Catalog make_catalog(const GeneratorPreset& p, std::uint64_t seed) {
  Catalog c;
  const auto n = static_cast<std::size_t>(p.items);
  const std::uint64_t stream = rng_stream(RngPurpose::kGenerator, 0xFFFFFFFFu);
  // Popularity ranks: a seeded permutation so popular items are spread over ids.
  std::vector<std::int32_t> rank(n);
  std::iota(rank.begin(), rank.end(), 0);
  for (std::size_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::size_t>(uniform53(seed, stream, i) * static_cast<double>(i + 1));
    std::swap(rank[i], rank[std::min(j, i)]);
  }
  std::vector<double> weight(n);
  c.topic.resize(n);
  c.quality.resize(n);
  c.topic_items.resize(static_cast<std::size_t>(p.topics));
  for (std::size_t i = 0; i < n; ++i) {
    weight[i] = 1.0 / std::pow(static_cast<double>(rank[i]) + 10.0, p.zipf_alpha);
    c.topic[i] = static_cast<std::int32_t>(uniform53(seed, stream, n + i) * p.topics);
    c.quality[i] = static_cast<float>(0.5 * normal(seed, stream, 2 * n + i));
    c.topic_items[static_cast<std::size_t>(c.topic[i])].push_back(static_cast<std::int32_t>(i));
  }
  const auto cumulative = [&](const std::vector<std::int32_t>& items) {
    std::vector<double> cdf(items.size());
    double total = 0;
    for (std::size_t k = 0; k < items.size(); ++k) cdf[k] = (total += weight[static_cast<std::size_t>(items[k])]);
    for (double& v : cdf) v /= total;
    return cdf;
  };
  for (auto& items : c.topic_items) c.topic_cdf.push_back(cumulative(items));
  std::vector<std::int32_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  c.global_cdf = cumulative(all);
  return c;
}

std::int32_t pick(const std::vector<double>& cdf, double u) {
  return static_cast<std::int32_t>(std::min<std::size_t>(
      static_cast<std::size_t>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin()), cdf.size() - 1));
}

// Rows per user: min + a log-normal share of the rest, rounded by largest
// remainder so the total is exact, and capped at half the catalogue.
std::vector<std::int64_t> user_activity(const GeneratorPreset& p, std::uint64_t seed) {
  const auto users = static_cast<std::size_t>(p.users);
  const std::int64_t cap = std::max<std::int64_t>(p.min_per_user, p.items / 2);
  RF_CHECK(p.interactions >= static_cast<std::int64_t>(p.min_per_user) * p.users &&
               p.interactions <= cap * static_cast<std::int64_t>(p.users),
           "preset ", p.name, ": ", p.interactions, " interactions cannot be spread over ", p.users, " users");
  const std::uint64_t stream = rng_stream(RngPurpose::kGenerator, 0xFFFFFFFEu);
  std::vector<double> share(users);
  for (std::size_t u = 0; u < users; ++u) share[u] = std::exp(p.activity_sigma * normal(seed, stream, u));
  std::vector<std::int64_t> count(users, p.min_per_user);
  std::vector<std::uint8_t> capped(users, 0);
  std::int64_t remaining = p.interactions - static_cast<std::int64_t>(p.min_per_user) * p.users;
  // Distribute, re-distributing what the cap cuts off, until everything is placed.
  while (remaining > 0) {
    double total = 0;
    for (std::size_t u = 0; u < users; ++u)
      if (!capped[u]) total += share[u];
    std::vector<std::pair<double, std::size_t>> remainders;
    std::int64_t placed = 0;
    for (std::size_t u = 0; u < users; ++u) {
      if (capped[u]) continue;
      const double exact = static_cast<double>(remaining) * share[u] / total;
      const auto whole = static_cast<std::int64_t>(exact);
      count[u] += whole;
      placed += whole;
      remainders.emplace_back(exact - static_cast<double>(whole), u);
    }
    std::sort(remainders.begin(), remainders.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    for (std::int64_t k = 0; k < remaining - placed && k < static_cast<std::int64_t>(remainders.size()); ++k) {
      ++count[remainders[static_cast<std::size_t>(k)].second];
    }
    remaining = 0;
    for (std::size_t u = 0; u < users; ++u) {
      if (count[u] > cap) {
        remaining += count[u] - cap;
        count[u] = cap;
        capped[u] = 1;
      }
    }
  }
  return count;
}

}  // namespace

RawInteractions generate_interactions(const GeneratorPreset& p, std::uint64_t seed, int threads) {
  RF_CHECK(p.users > 0 && p.items > 1 && p.topics > 0, "invalid generator preset ", p.name);
  const Catalog catalog = make_catalog(p, seed);
  const std::vector<std::int64_t> count = user_activity(p, seed);
  std::vector<std::int64_t> offset(count.size() + 1, 0);
  std::partial_sum(count.begin(), count.end(), offset.begin() + 1);
  const auto total = static_cast<std::size_t>(offset.back());

  RawInteractions out;
  out.users.integers.resize(total);
  out.items.integers.resize(total);
  out.rating.resize(total);
  out.timestamp.resize(total);
  const int nthreads = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel num_threads(nthreads)
  {
    std::vector<std::uint8_t> seen(static_cast<std::size_t>(p.items), 0);
#pragma omp for schedule(dynamic, 64)
    for (std::int32_t u = 0; u < p.users; ++u) {
      UserRng rng{seed, rng_stream(RngPurpose::kGenerator, static_cast<std::uint32_t>(u))};
      const auto primary = static_cast<std::int32_t>(rng.uniform() * p.topics);
      const auto secondary = static_cast<std::int32_t>(rng.uniform() * p.topics);
      const double bias = 0.4 * rng.gaussian();
      // Active period: start anywhere, spread the user's rows over up to a few years.
      const double start = static_cast<double>(kStartTime) + rng.uniform() * static_cast<double>(kEndTime - kStartTime);
      const double span = std::min(static_cast<double>(kEndTime) - start, 86400.0 * 365 * (0.05 + 3.0 * rng.uniform()));
      const auto n = static_cast<std::size_t>(count[static_cast<std::size_t>(u)]);
      const std::size_t base = static_cast<std::size_t>(offset[static_cast<std::size_t>(u)]);
      std::int32_t topic = primary;
      double time = start;
      for (std::size_t k = 0; k < n; ++k) {
        // Topic: persist (sequential signal), else primary / secondary / anything.
        const double r = rng.uniform();
        if (!(k > 0 && r < 0.4)) {
          const double s = rng.uniform();
          topic = s < 0.6 ? primary : (s < 0.85 ? secondary : -1);
        }
        std::int32_t item = -1;
        for (int attempt = 0; attempt < 32 && item < 0; ++attempt) {
          const bool global = topic < 0 || attempt >= 8;  // saturated topic: fall back to all items
          const auto& cdf = global ? catalog.global_cdf : catalog.topic_cdf[static_cast<std::size_t>(topic)];
          const std::int32_t idx = pick(cdf, rng.uniform());
          const std::int32_t candidate =
              global ? idx : catalog.topic_items[static_cast<std::size_t>(topic)][static_cast<std::size_t>(idx)];
          if (!seen[static_cast<std::size_t>(candidate)]) item = candidate;
        }
        if (item < 0) {  // all tries taken: the next unused item after a random start
          std::int32_t probe = static_cast<std::int32_t>(rng.uniform() * p.items);
          while (seen[static_cast<std::size_t>(probe)]) probe = (probe + 1) % p.items;
          item = probe;
        }
        seen[static_cast<std::size_t>(item)] = 1;
        const std::int32_t item_topic = catalog.topic[static_cast<std::size_t>(item)];
        const double match = item_topic == primary ? 0.9 : (item_topic == secondary ? 0.45 : 0.0);
        const double score = 3.0 + match + catalog.quality[static_cast<std::size_t>(item)] + bias + 0.7 * rng.gaussian();
        const double stars = std::clamp(std::round(score * 2.0) / 2.0, 0.5, 5.0);
        time += span / static_cast<double>(n) * (-std::log(1.0 - rng.uniform()));
        const std::size_t row = base + k;
        out.users.integers[row] = u + 1;
        out.items.integers[row] = item + 1;
        out.rating[row] = static_cast<float>(stars);
        out.timestamp[row] = std::min<std::int64_t>(static_cast<std::int64_t>(time), kEndTime);
      }
      for (std::size_t k = 0; k < n; ++k) seen[static_cast<std::size_t>(out.items.integers[base + k] - 1)] = 0;
    }
  }
  out.report.path = "synthetic:" + p.name;
  out.report.lines = out.report.rows = static_cast<std::int64_t>(total);
  return out;
}

namespace {

char* write_int(char* p, std::int64_t v) { return std::to_chars(p, p + 24, v).ptr; }

char* write_rating(char* p, float r, bool half_stars) {
  // MovieLens writes "4.0", "3.5" in ratings.csv and whole stars from 1 to 5
  // in u.data and ratings.dat: a half star rounds to the nearest whole one
  // (0.5 to 1; truncating wrote 0, which those formats' readers refuse).
  if (!half_stars) return std::to_chars(p, p + 8, std::clamp<long>(std::lround(r), 1, 5)).ptr;
  const int tenths = static_cast<int>(std::lround(r * 10.0f));
  p = std::to_chars(p, p + 8, tenths / 10).ptr;
  *p++ = '.';
  *p++ = static_cast<char>('0' + tenths % 10);
  return p;
}

}  // namespace

void write_interactions(const RawInteractions& rows, const std::string& path, Format format) {
  RF_CHECK(!rows.users.integers.empty(), "write_interactions: integer ids required");
  std::string_view separator;
  bool half_stars = true;
  switch (format) {
    case Format::kMovieLensCsv:
    case Format::kCsv: separator = ","; break;
    case Format::kMovieLensDat: separator = "::"; break;
    case Format::kMovieLens100k: separator = "\t"; half_stars = false; break;
    default: RF_THROW(ErrorKind::kConfig, "cannot write format ", format_name(format));
  }
  const std::filesystem::path target(path);
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path());
  const std::string temp = path + ".tmp";
  std::FILE* file = std::fopen(temp.c_str(), "wb");
  RF_CHECK_KIND(ErrorKind::kIo, file != nullptr, "cannot create '", temp, "': ", std::strerror(errno));
  bool ok = true;
  if (format == Format::kMovieLensCsv) {
    const char header[] = "userId,movieId,rating,timestamp\n";
    ok &= std::fwrite(header, 1, sizeof header - 1, file) == sizeof header - 1;
  }
  const std::size_t n = rows.users.integers.size();
  const bool has_rating = !rows.rating.empty(), has_time = !rows.timestamp.empty();
  // Format blocks of rows in parallel, write them in order.
  constexpr std::size_t kBlock = 1 << 18;
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
  const int threads = omp_get_max_threads();
  std::vector<std::string> buffers(static_cast<std::size_t>(threads));
  for (std::size_t first = 0; first < blocks && ok; first += static_cast<std::size_t>(threads)) {
    const std::size_t last = std::min(blocks, first + static_cast<std::size_t>(threads));
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (std::size_t b = first; b < last; ++b) {
      std::string& buffer = buffers[b - first];
      const std::size_t begin = b * kBlock, end = std::min(n, begin + kBlock);
      buffer.resize((end - begin) * 64);
      char* p = buffer.data();
      for (std::size_t i = begin; i < end; ++i) {
        p = write_int(p, rows.users.integers[i]);
        std::memcpy(p, separator.data(), separator.size());
        p += separator.size();
        p = write_int(p, rows.items.integers[i]);
        if (has_rating) {
          std::memcpy(p, separator.data(), separator.size());
          p += separator.size();
          p = write_rating(p, rows.rating[i], half_stars);
        }
        if (has_time) {
          std::memcpy(p, separator.data(), separator.size());
          p += separator.size();
          p = write_int(p, rows.timestamp[i]);
        }
        *p++ = '\n';
      }
      buffer.resize(static_cast<std::size_t>(p - buffer.data()));
    }
    for (std::size_t b = first; b < last; ++b) {
      const std::string& buffer = buffers[b - first];
      ok &= std::fwrite(buffer.data(), 1, buffer.size(), file) == buffer.size();
    }
  }
  ok &= std::fflush(file) == 0;
  const int saved_errno = errno;
  ok &= std::fclose(file) == 0;
  if (!ok) {
    std::filesystem::remove(temp);
    RF_THROW(ErrorKind::kIo, "writing '", path, "' failed: ", std::strerror(saved_errno));
  }
  std::filesystem::rename(temp, path);
}

}  // namespace recforge::data
