// Exit codes shared by every subcommand (cli/) and the daemon's run loop.
#pragma once

namespace sigdrain {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitKilled = 1;  // safe-stop: the container had to be SIGKILLed
inline constexpr int kExitError = 2;   // bad input, missing privilege, unknown container, kernel without a probe

}  // namespace sigdrain
