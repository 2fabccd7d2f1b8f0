// locktrace: parse the command line, run one subcommand, turn any fatal
// condition into one line on stderr and a documented exit code.
#include <cstdio>

#include "commands.hpp"
#include "errors.hpp"
#include "options.hpp"

int main(int argc, char** argv) {
  using namespace locktrace;
  cli::ParsedCommandLine parsed;
  auto app = cli::make_app(parsed);
  try {
    app->parse(argc, argv);
    cli::validate(parsed);
    for (int i = 0; i < argc; i++) parsed.command_line += (i ? " " : "") + std::string(argv[i]);
    switch (parsed.command) {
      case cli::Command::live:
        return cli::run_live(parsed.live, parsed.command_line);
      case cli::Command::record:
        return cli::run_record(parsed.record, parsed.command_line);
      case cli::Command::replay:
        return cli::run_replay(parsed.replay);
      case cli::Command::info:
        return cli::run_info(parsed.info);
      case cli::Command::report:
        return cli::run_report(parsed.report);
      case cli::Command::graph:
        return cli::run_graph(parsed.graph);
      case cli::Command::demo:
        return cli::run_demo(parsed.demo);
      case cli::Command::none:
        break;
    }
    return kExitUsage;
  } catch (const CLI::CallForHelp& e) {
    return app->exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app->exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app->exit(e);
  } catch (const CLI::ParseError& e) {
    note(std::string(e.what()) + " (see locktrace --help)");
    return kExitUsage;
  } catch (const Fatal& e) {
    note(e.what());
    return e.code();
  } catch (const std::exception& e) {
    note(e.what());
    return kExitFailure;
  }
}
