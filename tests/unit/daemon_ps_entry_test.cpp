// The daemon's ps reply: what the daemon writes is what ps and check read back, and a key they cannot find is an
// error naming it, never a default.
#include <gtest/gtest.h>

#include "daemon/ps_entry.hpp"
#include "util/json.hpp"

namespace sigdrain {
namespace {

PsEntry guarded_entry() {
  PsEntry e;
  e.id = "0123456789abcdef";
  e.name = "web";
  e.runtime = "podman";
  e.init_pid = 4242;
  e.guarded = true;
  e.backend = "ptrace";
  e.backend_why = "";
  e.init_comm = "uwsgi";
  e.dispositions = {{"SIGTERM", "handler"}, {"SIGINT", "handler"}, {"SIGQUIT", "default"}, {"SIGHUP", "ignore"}};
  e.inflight = 3;
  e.open_inbound = 7;
  e.state = PsState::draining;
  e.last_stop = {{"event", "stop"}, {"total_ms", 1200}};
  return e;
}

TEST(PsEntry, RoundTripsThroughTheReplyLine) {
  PsEntry e = guarded_entry();
  auto back = parse_ps_entry(json_text(to_json(e)));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, e);

  PsEntry unreadable_init;  // the init's status could not be read: no comm, no dispositions
  unreadable_init.id = "fedcba9876543210";
  unreadable_init.why_not = "its runtime does not describe it";
  unreadable_init.backend = "none";
  unreadable_init.state = PsState::running;
  nlohmann::json j = to_json(unreadable_init);
  EXPECT_FALSE(j.contains("init_comm"));
  EXPECT_FALSE(j.contains("dispositions"));
  EXPECT_TRUE(j["last_stop"].is_null());
  auto back2 = parse_ps_entry(json_text(j));
  ASSERT_TRUE(back2.ok()) << back2.error().message;
  EXPECT_EQ(*back2, unreadable_init);
}

TEST(PsEntry, TheKeysAreTheOnesPsJsonHasAlwaysWritten) {
  nlohmann::json j = to_json(guarded_entry());
  std::vector<std::string> keys;
  for (const auto& item : j.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"backend", "backend_why", "dispositions", "guarded", "id", "inflight", "init_comm",
                                            "init_pid", "last_stop", "name", "open_inbound", "runtime", "state", "why_not"}));
}

TEST(PsEntry, TheLineIsByteForByteWhatPsJsonHasAlwaysPrinted) {
  EXPECT_EQ(json_text(to_json(guarded_entry())),
            R"({"backend":"ptrace","backend_why":"","dispositions":{"SIGHUP":"ignore","SIGINT":"handler","SIGQUIT":"default",)"
            R"("SIGTERM":"handler"},"guarded":true,"id":"0123456789abcdef","inflight":3,"init_comm":"uwsgi","init_pid":4242,)"
            R"("last_stop":{"event":"stop","total_ms":1200},"name":"web","open_inbound":7,"runtime":"podman","state":"draining",)"
            R"("why_not":""})");
}

TEST(PsEntry, TheStatesAreNamedAsPsJsonHasAlwaysNamedThem) {
  std::vector<std::string_view> names;
  for (PsState state : kPsStateValues) {
    names.push_back(ps_state_name(state));
    EXPECT_EQ(parse_ps_state(ps_state_name(state)), state);
  }
  EXPECT_EQ(names, (std::vector<std::string_view>{"running", "draining", "stopping"}));
  EXPECT_EQ(parse_ps_state("Running"), std::nullopt);
  EXPECT_EQ(parse_ps_state(""), std::nullopt);

  PsEntry stopping = guarded_entry();
  stopping.state = PsState::stopping;
  nlohmann::json j = to_json(stopping);
  EXPECT_EQ(j["state"], "stopping") << "a JSON string, as before it was an enum";
}

TEST(PsEntry, AStateOfAnotherVersionIsAnErrorNamingIt) {
  nlohmann::json unknown = to_json(guarded_entry());
  unknown["state"] = "paused";
  auto r = parse_ps_entry(json_text(unknown));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "\"state\" is \"paused\", not running, draining or stopping");

  nlohmann::json retyped = to_json(guarded_entry());
  retyped["state"] = 1;
  r = parse_ps_entry(json_text(retyped));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "\"state\" is missing or of the wrong type");

  nlohmann::json missing = to_json(guarded_entry());
  missing.erase("state");
  r = parse_ps_entry(json_text(missing));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "\"state\" is missing or of the wrong type");
}

TEST(PsEntry, ARenamedMissingOrRetypedKeyIsAnErrorNamingIt) {
  const nlohmann::json good = to_json(guarded_entry());
  nlohmann::json renamed = good;
  renamed["in_flight"] = renamed["inflight"];
  renamed.erase("inflight");
  auto r = parse_ps_entry(json_text(renamed));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "\"inflight\" is missing or of the wrong type");

  nlohmann::json retyped = good;
  retyped["guarded"] = 1;
  r = parse_ps_entry(json_text(retyped));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "\"guarded\" is missing or of the wrong type");

  nlohmann::json bad_disposition = good;
  bad_disposition["dispositions"]["SIGTERM"] = 15;
  EXPECT_FALSE(parse_ps_entry(json_text(bad_disposition)).ok());

  nlohmann::json negative_pid = good;
  negative_pid["init_pid"] = -1;
  EXPECT_FALSE(parse_ps_entry(json_text(negative_pid)).ok());

  EXPECT_EQ(parse_ps_entry("[1, 2]").error().message, "not a JSON object");
  EXPECT_EQ(parse_ps_entry("{\"id\":").error().message, "not a JSON object");
}

TEST(PsEntry, TheReplyIsOneEntryALineAndAnErrorNamesTheLine) {
  std::string line = json_text(to_json(guarded_entry()));
  auto entries = parse_ps_reply(line + "\n" + line + "\n");
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  EXPECT_EQ(entries->size(), 2u);
  auto none = parse_ps_reply("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty()) << "a daemon that knows no container";
  auto bad = parse_ps_reply(line + "\n{}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "the daemon's ps reply, line 2: \"id\" is missing or of the wrong type");
}

}  // namespace
}  // namespace sigdrain
