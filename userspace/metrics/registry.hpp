// A small metrics registry and its Prometheus text exposition (format 0.0.4). Pure: no I/O, no locking; the
// owner renders a snapshot and hands the text to whoever serves it (metrics/server.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sigdrain::metrics {

// Label names and values in the order they are rendered.
using Labels = std::vector<std::pair<std::string, std::string>>;

// One metric family: a name, its HELP and TYPE lines, and one series per label set (rendered sorted by labels).
class Family {
 public:
  Family(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}
  virtual ~Family() = default;
  const std::string& name() const { return name_; }
  void render(std::string& out) const;

 protected:
  virtual std::string_view type() const = 0;
  virtual void render_series(std::string& out) const = 0;

 private:
  std::string name_, help_;
};

// Counters and gauges: one number per label set.
class ScalarFamily : public Family {
 public:
  using Family::Family;

 protected:
  void render_series(std::string& out) const override;
  std::map<Labels, double> values_;
};

class CounterFamily final : public ScalarFamily {
 public:
  using ScalarFamily::ScalarFamily;
  void inc(const Labels& labels = {}, double by = 1) { values_[labels] += by; }
  // Mirrors a monotonic count kept elsewhere (e.g. by the kernel).
  void set_total(const Labels& labels, double total) { values_[labels] = total; }

 private:
  std::string_view type() const override { return "counter"; }
};

class GaugeFamily final : public ScalarFamily {
 public:
  using ScalarFamily::ScalarFamily;
  void set(const Labels& labels, double value) { values_[labels] = value; }
  // Forgets every series: for label sets that come and go (one per container).
  void clear() { values_.clear(); }

 private:
  std::string_view type() const override { return "gauge"; }
};

class HistogramFamily final : public Family {
 public:
  // `upper_bounds` ascending; the +Inf bucket is implicit.
  HistogramFamily(std::string name, std::string help, std::vector<double> upper_bounds)
      : Family(std::move(name), std::move(help)), bounds_(std::move(upper_bounds)) {}
  void observe(const Labels& labels, double value);
  // A series present (all zero) before its first observation.
  void declare(const Labels& labels) { series_[labels].cumulative.resize(bounds_.size()); }

 private:
  struct Series {
    std::vector<uint64_t> cumulative;  // one per bound: observations <= that bound
    double sum = 0;
    uint64_t count = 0;
  };
  std::string_view type() const override { return "histogram"; }
  void render_series(std::string& out) const override;
  std::vector<double> bounds_;
  std::map<Labels, Series> series_;
};

// Families in the order they were added. A family shows the label sets it was given: its owner gives each known
// label set once (`inc(labels, 0)`, `declare(labels)`) so that a series is present before anything happened.
class Registry {
 public:
  CounterFamily& counter(std::string name, std::string help);
  GaugeFamily& gauge(std::string name, std::string help);
  HistogramFamily& histogram(std::string name, std::string help, std::vector<double> upper_bounds);
  std::string render() const;

 private:
  template <typename F, typename... Args>
  F& add(Args&&... args) {
    auto family = std::make_unique<F>(std::forward<Args>(args)...);
    F& ref = *family;
    families_.push_back(std::move(family));
    return ref;
  }
  std::vector<std::unique_ptr<Family>> families_;
};

// Exposition-format pieces, exposed for tests.
std::string escape_label_value(std::string_view value);
std::string format_sample_value(double value);  // shortest round-trip form; +Inf, -Inf, NaN

}  // namespace sigdrain::metrics
