// Schema: declaration of config keys and resolve() = validate + fill defaults.
#include "recforge/config/schema.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "recforge/core/error.hpp"

namespace recforge {

struct Schema::Field {
  enum class Type { kInt, kFloat, kBool, kString, kStringList, kIntList, kFloatList, kSection, kVariant };
  Type type = Type::kString;
  std::string key;
  std::string doc;
  bool required = false;
  bool nullable = false;
  std::string default_text;               // scalars
  std::vector<std::string> default_list;  // lists (as text)
  std::int64_t int_min = kIntMin, int_max = kIntMax;
  double float_min = -kInf, float_max = kInf;
  std::size_t min_items = 0, max_items = kMaxItems;  // lists
  std::vector<std::string> choices;
  std::shared_ptr<const Schema> section;
  std::string selector;
  SchemaLookup lookup;
};

namespace {

std::string format_double(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, end);
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";  // keep it visibly a float
  return text;
}

std::string join(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string items_text(std::size_t min_items, std::size_t max_items) {
  if (max_items == Schema::kMaxItems) return "at least " + std::to_string(min_items) + " items";
  return std::to_string(min_items) + " to " + std::to_string(max_items) + " items";
}

std::string int_range_text(std::int64_t min, std::int64_t max) {
  if (min != Schema::kIntMin && max != Schema::kIntMax) {
    return "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  }
  if (min != Schema::kIntMin) return "an integer >= " + std::to_string(min);
  if (max != Schema::kIntMax) return "an integer <= " + std::to_string(max);
  return "an integer";
}

std::string float_range_text(double min, double max) {
  if (min != -Schema::kInf && max != Schema::kInf) {
    return "a number in [" + format_double(min) + ", " + format_double(max) + "]";
  }
  if (min != -Schema::kInf) return "a number >= " + format_double(min);
  if (max != Schema::kInf) return "a number <= " + format_double(max);
  return "a number";
}

std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

}  // namespace

Schema::Schema(std::string doc) : doc_(std::move(doc)) {}

namespace {
Schema::Field make_field(Schema::Field::Type type, std::string key, std::string doc) {
  Schema::Field f;
  f.type = type;
  f.key = std::move(key);
  f.doc = std::move(doc);
  return f;
}
}  // namespace
Schema::Schema(const Schema& other) : doc_(other.doc_) {
  for (const auto& f : other.fields_) fields_.push_back(std::make_unique<Field>(*f));
}
Schema& Schema::operator=(const Schema& other) {
  if (this != &other) *this = Schema(other);
  return *this;
}
Schema::Schema(Schema&&) noexcept = default;
Schema& Schema::operator=(Schema&&) noexcept = default;
Schema::~Schema() = default;

const std::string& Schema::doc() const { return doc_; }

Schema& Schema::extend(const Schema& other) {
  for (const auto& f : other.fields_) add(*f);
  return *this;
}

std::vector<std::string> Schema::keys() const {
  std::vector<std::string> out;
  for (const auto& f : fields_) out.push_back(f->key);
  return out;
}

Schema& Schema::add(Field field) {
  for (const auto& f : fields_) {
    RF_CHECK_KIND(ErrorKind::kInternal, f->key != field.key, "config key '", field.key, "' declared twice");
  }
  fields_.push_back(std::make_unique<Field>(std::move(field)));
  return *this;
}

Schema& Schema::add_int(std::string key, std::int64_t default_value, std::string doc, std::int64_t min,
                        std::int64_t max) {
  Field f = make_field(Field::Type::kInt, std::move(key), std::move(doc));
  f.default_text = std::to_string(default_value);
  f.int_min = min;
  f.int_max = max;
  return add(std::move(f));
}

Schema& Schema::add_float(std::string key, double default_value, std::string doc, double min, double max) {
  Field f = make_field(Field::Type::kFloat, std::move(key), std::move(doc));
  f.default_text = format_double(default_value);
  f.float_min = min;
  f.float_max = max;
  return add(std::move(f));
}

Schema& Schema::add_bool(std::string key, bool default_value, std::string doc) {
  Field f = make_field(Field::Type::kBool, std::move(key), std::move(doc));
  f.default_text = default_value ? "true" : "false";
  return add(std::move(f));
}

Schema& Schema::add_string(std::string key, std::string default_value, std::string doc,
                           std::vector<std::string> choices) {
  Field f = make_field(Field::Type::kString, std::move(key), std::move(doc));
  f.default_text = std::move(default_value);
  f.choices = std::move(choices);
  return add(std::move(f));
}

Schema& Schema::add_required_string(std::string key, std::string doc, std::vector<std::string> choices) {
  Field f = make_field(Field::Type::kString, std::move(key), std::move(doc));
  f.required = true;
  f.choices = std::move(choices);
  return add(std::move(f));
}

Schema& Schema::add_required_int(std::string key, std::string doc, std::int64_t min, std::int64_t max) {
  Field f = make_field(Field::Type::kInt, std::move(key), std::move(doc));
  f.required = true;
  f.int_min = min;
  f.int_max = max;
  return add(std::move(f));
}

Schema& Schema::add_optional_string(std::string key, std::string doc, std::vector<std::string> choices) {
  Field f = make_field(Field::Type::kString, std::move(key), std::move(doc));
  f.nullable = true;
  f.choices = std::move(choices);
  return add(std::move(f));
}

Schema& Schema::add_optional_int(std::string key, std::string doc, std::int64_t min, std::int64_t max) {
  Field f = make_field(Field::Type::kInt, std::move(key), std::move(doc));
  f.nullable = true;
  f.int_min = min;
  f.int_max = max;
  return add(std::move(f));
}

Schema& Schema::add_optional_float(std::string key, std::string doc, double min, double max) {
  Field f = make_field(Field::Type::kFloat, std::move(key), std::move(doc));
  f.nullable = true;
  f.float_min = min;
  f.float_max = max;
  return add(std::move(f));
}

Schema& Schema::add_string_list(std::string key, std::vector<std::string> default_value, std::string doc) {
  Field f = make_field(Field::Type::kStringList, std::move(key), std::move(doc));
  f.default_list = std::move(default_value);
  return add(std::move(f));
}

Schema& Schema::add_int_list(std::string key, std::vector<std::int64_t> default_value, std::string doc,
                             std::int64_t min, std::int64_t max, std::size_t min_items, std::size_t max_items) {
  Field f = make_field(Field::Type::kIntList, std::move(key), std::move(doc));
  for (std::int64_t v : default_value) f.default_list.push_back(std::to_string(v));
  f.int_min = min;
  f.int_max = max;
  f.min_items = min_items;
  f.max_items = max_items;
  return add(std::move(f));
}

Schema& Schema::add_float_list(std::string key, std::vector<double> default_value, std::string doc,
                               double min, double max) {
  Field f = make_field(Field::Type::kFloatList, std::move(key), std::move(doc));
  for (double v : default_value) f.default_list.push_back(format_double(v));
  f.float_min = min;
  f.float_max = max;
  return add(std::move(f));
}

Schema& Schema::add_section(std::string key, Schema section, std::string doc) {
  Field f = make_field(Field::Type::kSection, std::move(key), std::move(doc));
  f.section = std::make_shared<const Schema>(std::move(section));
  return add(std::move(f));
}

Schema& Schema::add_variant_section(std::string key, std::string selector, SchemaLookup lookup,
                                    std::string doc, bool required) {
  Field f = make_field(Field::Type::kVariant, std::move(key), std::move(doc));
  f.required = required;
  f.selector = std::move(selector);
  f.lookup = std::move(lookup);
  return add(std::move(f));
}

namespace {

void check_scalar(const Schema::Field& f, const ConfigNode& value);

void check_int(const ConfigNode& value, std::int64_t min, std::int64_t max) {
  const std::int64_t v = value.as_int();
  RF_CHECK_KIND(ErrorKind::kConfig, v >= min && v <= max, value.where(), ": expected ",
                int_range_text(min, max), ", got ", v);
}

void check_float(const ConfigNode& value, double min, double max) {
  const double v = value.as_double();
  RF_CHECK_KIND(ErrorKind::kConfig, v >= min && v <= max, value.where(), ": expected ",
                float_range_text(min, max), ", got ", value.text());
}

// The schema a variant section's selector picks (`type: als`), with errors that
// name the selector's file:line: missing (or misspelt), not a string, unknown.
Schema variant_schema(const Schema::Field& f, const ConfigNode& section, const std::string& path) {
  const ConfigNode* selector = section.find(f.selector);
  if (selector == nullptr || selector->is_null()) {
    for (const auto& [key, value] : section.entries()) {
      RF_CHECK_KIND(ErrorKind::kConfig, !closest_match(key, {f.selector}), value.key_location().str(),
                    ": unknown key '", child_path(path, key), "'; did you mean '", f.selector, "'?");
    }
    RF_THROW(ErrorKind::kConfig, section.location().str(), ": section '", path, "' needs a '", f.selector, "' key");
  }
  selector->as_string();  // a list or a map: "<path>.type: expected a string, got a list"
  try {
    return f.lookup(*selector);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kNotFound) throw;
    RF_THROW(ErrorKind::kConfig, selector->where(), ": ", e.message());
  }
}

}  // namespace

ConfigNode Schema::resolve(const ConfigNode& raw, const std::string& path) const {
  RF_CHECK_KIND(ErrorKind::kConfig, raw.is_map() || raw.is_null(), raw.where(),
                ": expected a section (a map of keys), got ", raw.is_list() ? "a list" : "'" + raw.text() + "'");
  // Duplicates and unknown keys first: they are typos more often than not.
  const auto& entries = raw.entries();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    // Named references, not a structured binding: lambdas below capture them (clang 14).
    const std::string& key = entries[i].first;
    const ConfigNode& value = entries[i].second;
    for (std::size_t j = 0; j < i; ++j) {
      RF_CHECK_KIND(ErrorKind::kConfig, entries[j].first != key, value.key_location().str(), ": duplicate key '",
                    child_path(path, key), "' (first given at ", entries[j].second.key_location().str(), ")");
    }
    const bool known = std::any_of(fields_.begin(), fields_.end(), [&](const auto& f) { return f->key == key; });
    if (!known) {
      const auto hint = closest_match(key, keys());
      RF_THROW(ErrorKind::kConfig, value.key_location().str(), ": unknown key '", child_path(path, key), "'",
               hint ? "; did you mean '" + *hint + "'?" : std::string(),
               " (valid keys", path.empty() ? std::string() : " in '" + path + "'", ": ", join(keys()), ")");
    }
  }

  ConfigNode out = ConfigNode::map(path, raw.location());
  for (const auto& field : fields_) {
    const Field& f = *field;
    const std::string key_path = child_path(path, f.key);
    const ConfigNode* found = raw.find(f.key);
    const bool absent = found == nullptr || found->is_null();
    // Errors below name the schema's path (raw trees may be resolved under a prefix).
    ConfigNode relabelled = absent ? ConfigNode() : *found;
    if (!absent) relabelled.set_path(key_path);
    const ConfigNode* given = absent ? nullptr : &relabelled;
    switch (f.type) {
      case Field::Type::kSection:
        out.set(f.key, f.section->resolve(absent ? ConfigNode::null(key_path, raw.location()) : *given, key_path));
        continue;
      case Field::Type::kVariant: {
        if (absent && !f.required) {
          out.set(f.key, ConfigNode::null(key_path));
          continue;
        }
        RF_CHECK_KIND(ErrorKind::kConfig, !absent, raw.location().str(), ": missing section '", key_path, "'");
        RF_CHECK_KIND(ErrorKind::kConfig, given->is_map(), given->where(), ": expected a section (a map of keys)");
        out.set(f.key, variant_schema(f, *given, key_path).resolve(*given, key_path));
        continue;
      }
      default:
        break;
    }
    if (absent) {
      RF_CHECK_KIND(ErrorKind::kConfig, !f.required, raw.location().str(), ": missing required key '", key_path,
                    "' (", f.doc, ")");
      if (f.nullable) {
        out.set(f.key, ConfigNode::null(key_path));
      } else if (f.type == Field::Type::kStringList || f.type == Field::Type::kIntList ||
                 f.type == Field::Type::kFloatList) {
        ConfigNode list = ConfigNode::list(key_path);
        for (std::size_t i = 0; i < f.default_list.size(); ++i) {
          list.push_back(ConfigNode::scalar(f.default_list[i], key_path + "[" + std::to_string(i) + "]"));
        }
        out.set(f.key, std::move(list));
      } else {
        out.set(f.key, ConfigNode::scalar(f.default_text, key_path));
      }
      continue;
    }
    ConfigNode value = *given;
    switch (f.type) {
      case Field::Type::kStringList:
        value.as_string_list();
        break;
      case Field::Type::kIntList:
        value.as_int_list();
        RF_CHECK_KIND(ErrorKind::kConfig, value.items().size() >= f.min_items && value.items().size() <= f.max_items,
                      value.where(), ": expected ", items_text(f.min_items, f.max_items), ", got ",
                      value.items().size());
        for (const ConfigNode& item : value.items()) check_int(item, f.int_min, f.int_max);
        break;
      case Field::Type::kFloatList:
        value.as_double_list();
        for (const ConfigNode& item : value.items()) check_float(item, f.float_min, f.float_max);
        break;
      default:
        check_scalar(f, value);
    }
    out.set(f.key, std::move(value));
  }
  return out;
}

namespace {

void check_scalar(const Schema::Field& f, const ConfigNode& value) {
  using Type = Schema::Field::Type;
  switch (f.type) {
    case Type::kInt: check_int(value, f.int_min, f.int_max); break;
    case Type::kFloat: check_float(value, f.float_min, f.float_max); break;
    case Type::kBool: value.as_bool(); break;
    case Type::kString: {
      const std::string& text = value.as_string();
      if (!f.choices.empty() && std::find(f.choices.begin(), f.choices.end(), text) == f.choices.end()) {
        const auto hint = closest_match(text, f.choices);
        RF_THROW(ErrorKind::kConfig, value.where(), ": expected one of ", join(f.choices), ", got '", text, "'",
                 hint ? "; did you mean '" + *hint + "'?" : std::string());
      }
      break;
    }
    default:
      RF_ASSERT(false);
  }
}

const char* type_name(const Schema::Field& f) {
  using Type = Schema::Field::Type;
  switch (f.type) {
    case Type::kInt: return "int";
    case Type::kFloat: return "float";
    case Type::kBool: return "bool";
    case Type::kString: return "string";
    case Type::kStringList: return "list of strings";
    case Type::kIntList: return "list of ints";
    case Type::kFloatList: return "list of floats";
    case Type::kSection: return "section";
    case Type::kVariant: return "section";
  }
  return "?";
}

}  // namespace

std::string Schema::document(const std::string& prefix) const {
  std::ostringstream out;
  for (const auto& field : fields_) {
    const Field& f = *field;
    const std::string key = child_path(prefix, f.key);
    if (f.type == Field::Type::kSection) {
      out << f.section->document(key);
      continue;
    }
    std::string default_text;
    if (f.required && f.type != Field::Type::kVariant) {
      default_text = "(required)";
    } else if (f.nullable) {
      default_text = "(none)";
    } else if (f.type == Field::Type::kVariant) {
      default_text = "(see " + f.selector + ")";
    } else if (f.type == Field::Type::kStringList || f.type == Field::Type::kIntList ||
               f.type == Field::Type::kFloatList) {
      default_text = "[" + join(f.default_list) + "]";
    } else {
      default_text = f.default_text.empty() ? "\"\"" : f.default_text;
    }
    std::string doc = f.doc;
    if (!f.choices.empty()) doc += " (one of: " + join(f.choices) + ")";
    if (f.type == Field::Type::kInt && (f.int_min != kIntMin || f.int_max != kIntMax)) {
      doc += "; " + int_range_text(f.int_min, f.int_max);
    }
    if (f.type == Field::Type::kFloat && (f.float_min != -kInf || f.float_max != kInf)) {
      doc += "; " + float_range_text(f.float_min, f.float_max);
    }
    if (f.type == Field::Type::kIntList && (f.int_min != kIntMin || f.int_max != kIntMax)) {
      doc += "; each " + int_range_text(f.int_min, f.int_max);
    }
    if (f.type == Field::Type::kFloatList && (f.float_min != -kInf || f.float_max != kInf)) {
      doc += "; each " + float_range_text(f.float_min, f.float_max);
    }
    if (f.min_items > 0 || f.max_items != kMaxItems) doc += "; " + items_text(f.min_items, f.max_items);
    out << "| `" << key << "` | " << type_name(f) << " | `" << default_text << "` | " << doc << " |\n";
  }
  return out.str();
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> closest_match(std::string_view key, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = std::max<std::size_t>(2, key.size() / 3) + 1;
  for (const std::string& c : candidates) {
    const std::size_t d = edit_distance(key, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

}  // namespace recforge
