#include "metrics/registry.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace sigdrain::metrics {
namespace {

std::string escape_help(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// `name{a="x",b="y"} value`, without braces when there is no label.
void render_sample(std::string& out, std::string_view name, const Labels& labels, double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    for (size_t i = 0; i < labels.size(); ++i)
      out += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, escape_label_value(labels[i].second));
    out += '}';
  }
  out += ' ';
  out += format_sample_value(value);
  out += '\n';
}

Labels with_label(Labels labels, std::string name, std::string value) {
  labels.emplace_back(std::move(name), std::move(value));
  return labels;
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_sample_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

void Family::render(std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, escape_help(help_), name_, type());
  render_series(out);
}

void ScalarFamily::render_series(std::string& out) const {
  for (const auto& [labels, value] : values_) render_sample(out, name(), labels, value);
}

void HistogramFamily::observe(const Labels& labels, double value) {
  declare(labels);
  Series& s = series_[labels];
  for (size_t i = 0; i < bounds_.size(); ++i)
    if (value <= bounds_[i]) ++s.cumulative[i];
  s.sum += value;
  ++s.count;
}

void HistogramFamily::render_series(std::string& out) const {
  for (const auto& [labels, s] : series_) {
    for (size_t i = 0; i < bounds_.size(); ++i)
      render_sample(out, name() + "_bucket", with_label(labels, "le", format_sample_value(bounds_[i])),
                    static_cast<double>(s.cumulative[i]));
    render_sample(out, name() + "_bucket", with_label(labels, "le", "+Inf"), static_cast<double>(s.count));
    render_sample(out, name() + "_sum", labels, s.sum);
    render_sample(out, name() + "_count", labels, static_cast<double>(s.count));
  }
}

CounterFamily& Registry::counter(std::string name, std::string help) {
  return add<CounterFamily>(std::move(name), std::move(help));
}

GaugeFamily& Registry::gauge(std::string name, std::string help) { return add<GaugeFamily>(std::move(name), std::move(help)); }

HistogramFamily& Registry::histogram(std::string name, std::string help, std::vector<double> upper_bounds) {
  std::sort(upper_bounds.begin(), upper_bounds.end());
  return add<HistogramFamily>(std::move(name), std::move(help), std::move(upper_bounds));
}

std::string Registry::render() const {
  std::string out;
  for (const auto& family : families_) family->render(out);
  return out;
}

}  // namespace sigdrain::metrics
