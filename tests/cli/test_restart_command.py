"""`ece-restart-operator restart` as a subprocess against the ECE simulator served in a thread."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from ece_restart import cli
from ece_restart.simulator import EXAMPLE_DEPLOYMENT_ID, Fault, Simulator
from tests.cli.conftest import RunningCli, clean_env, run_cli, run_cli_many
from tests.support.simulator_fixtures import API_KEY, BASIC_PASSWORD, BASIC_USER

MakeSim = Callable[..., Simulator]
KIBANA = ("--deployment", EXAMPLE_DEPLOYMENT_ID, "--kind", "kibana", "--ref-id", "main-kibana")
FAST_RETRIES = ("--initial-delay", "0.01", "--max-delay", "0.02")
CANARY = "canary-api-key-must-never-print-7f3c"


def env_for(sim: Simulator, **extra: str) -> dict[str, str]:
    return {"ECE_URL": sim.url, "ECE_API_KEY": API_KEY, **extra}


def restart_calls(sim: Simulator) -> int:
    return sum(1 for call in sim.calls if call.route == "restart")


def test_success_prints_acceptance_and_exits_0(simulator_in_thread: Simulator) -> None:
    result = run_cli("restart", *KIBANA, env=env_for(simulator_in_thread))

    assert result.returncode == 0, result.stderr
    assert f"ECE accepted the restart of {EXAMPLE_DEPLOYMENT_ID}/kibana/main-kibana (HTTP 202)" in result.stdout
    assert result.stderr == ""
    assert simulator_in_thread.accepted_restarts(EXAMPLE_DEPLOYMENT_ID, "kibana", "main-kibana") == 1
    [call] = simulator_in_thread.calls
    assert call.query == {"cancel_pending": "false"}


def test_basic_credentials_and_elasticsearch_options_reach_ece(simulator_in_thread: Simulator) -> None:
    env = {"ECE_URL": simulator_in_thread.url, "ECE_USERNAME": BASIC_USER, "ECE_PASSWORD": BASIC_PASSWORD}
    result = run_cli("restart", "--deployment", EXAMPLE_DEPLOYMENT_ID, "--kind", "elasticsearch",
                     "--ref-id", "main-elasticsearch", "--cancel-pending", "--no-skip-snapshot",
                     "--group-attribute", "__zone__", "--shard-init-wait-time", "30", env=env)

    assert result.returncode == 0, result.stderr
    [call] = simulator_in_thread.calls
    assert call.auth_scheme == "Basic"
    assert call.query == {"cancel_pending": "true", "skip_snapshot": "false", "group_attribute": "__zone__",
                          "shard_init_wait_time": "30"}


def test_unknown_deployment_exits_1_with_outcome_status_and_ece_error_code(simulator_in_thread: Simulator) -> None:
    missing = "0" * 32
    result = run_cli("restart", "--deployment", missing, "--kind", "kibana", "--ref-id", "main-kibana",
                     env=env_for(simulator_in_thread))

    assert result.returncode == 1
    assert "error: DeploymentNotFound (HTTP 404, deployments.deployment_not_found): " in result.stderr
    assert missing in result.stderr
    assert restart_calls(simulator_in_thread) == 1  # a permanent failure is never retried


def test_server_errors_are_retried_with_the_delay_printed(simulator_in_thread: Simulator) -> None:
    simulator_in_thread.add_fault(Fault(route="restart", status=500, times=2))

    result = run_cli("restart", *KIBANA, *FAST_RETRIES, env=env_for(simulator_in_thread))

    assert result.returncode == 0, result.stderr
    retries = [line for line in result.stdout.splitlines() if "retrying in" in line]
    assert len(retries) == 2, result.stdout
    assert retries[0].startswith("attempt 1 of 5 failed: ServerError (HTTP 500, internal.server.error): ")
    assert retries[1].startswith("attempt 2 of 5 failed: ")
    assert retries[0].endswith(" s")
    assert "after 3 attempts" in result.stdout
    assert restart_calls(simulator_in_thread) == 3
    assert simulator_in_thread.accepted_restarts() == 1


def test_retries_exhausted_exits_1_after_max_attempts(simulator_in_thread: Simulator) -> None:
    simulator_in_thread.add_fault(Fault(route="restart", status=500, times=None))

    result = run_cli("restart", *KIBANA, *FAST_RETRIES, "--max-attempts", "3", env=env_for(simulator_in_thread))

    assert result.returncode == 1
    assert "error: RetriesExhausted (HTTP 500, internal.server.error): gave up after 3 attempts" in result.stderr
    assert result.stdout.count("retrying in") == 2
    assert restart_calls(simulator_in_thread) == 3
    assert simulator_in_thread.accepted_restarts() == 0


def test_lost_answer_exits_3_and_never_retries(simulator_in_thread: Simulator) -> None:
    simulator_in_thread.add_fault(Fault(route="restart", drop_response=True))

    result = run_cli("restart", *KIBANA, *FAST_RETRIES, env=env_for(simulator_in_thread))

    assert result.returncode == 3
    assert "error: OutcomeUnknown: " in result.stderr
    assert "ECE may have applied it" in result.stderr
    assert "Check the deployment's activity in ECE" in result.stderr
    assert restart_calls(simulator_in_thread) == 1  # an ambiguous failure is never retried blindly
    assert simulator_in_thread.accepted_restarts() == 1  # the simulator did apply it


def test_lost_answer_with_wait_finds_the_plan_and_follows_it(make_simulator_in_thread: MakeSim) -> None:
    sim = make_simulator_in_thread(plan_seconds=0)
    sim.add_fault(Fault(route="restart", drop_response=True))

    result = run_cli("restart", *KIBANA, "--wait", "--poll-interval", "0.05", env=env_for(sim))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "treating the restart as accepted" in result.stdout
    assert "ECE completed the restart plan" in result.stdout
    assert restart_calls(sim) == 1


def test_lost_answer_with_wait_and_no_new_plan_exits_3(make_simulator_in_thread: MakeSim) -> None:
    sim = make_simulator_in_thread(plan_seconds=0)
    sim.add_fault(Fault(route="restart", reset=True))  # the connection dies after the request left, unapplied

    result = run_cli("restart", *KIBANA, "--wait", env=env_for(sim))

    # Lost answers are never retried; the plans are read once and show no attempt since the request: exit 3.
    assert result.returncode == 3, result.stdout + result.stderr
    assert "ECE shows no plan attempt since the request" in result.stderr
    assert sim.accepted_restarts() == 0


def test_wait_prints_the_plan_steps_until_completed(make_simulator_in_thread: MakeSim,
                                                   running_cli: list[RunningCli]) -> None:
    sim = make_simulator_in_thread(plan_seconds=3.0)  # on the simulator's manual clock, moved by this test
    command = RunningCli("restart", *KIBANA, "--wait", "--poll-interval", "0.02", env=env_for(sim))
    running_cli.append(command)

    command.wait_for_line("following plan attempt")
    command.wait_for_line("step validate-plan-prerequisites")
    sim.advance(1.0)
    command.wait_for_line("step restart-instances")
    sim.advance(1.0)
    command.wait_for_line("step wait-until-running")
    sim.advance(1.0)
    code, stdout, stderr = command.finish()

    assert code == 0, stdout + stderr
    steps = [line.split()[1] for line in stdout.splitlines() if line.startswith("step ")]
    assert steps == ["validate-plan-prerequisites", "restart-instances", "wait-until-running", "plan-completed"]
    assert stdout.splitlines()[-1].startswith(f"ECE completed the restart plan of {EXAMPLE_DEPLOYMENT_ID}/kibana")
    assert "\r" not in stdout and "\x1b" not in stdout  # not a terminal: plain lines only


def test_wait_on_a_failing_plan_exits_4(make_simulator_in_thread: MakeSim) -> None:
    sim = make_simulator_in_thread(plan_seconds=0)
    sim.resource(EXAMPLE_DEPLOYMENT_ID, "kibana", "main-kibana").fail_next_plan(message="instance failed to start")

    result = run_cli("restart", *KIBANA, "--wait", "--poll-interval", "0.05", env=env_for(sim))

    assert result.returncode == 4, result.stdout + result.stderr
    assert "step plan-completed (error)" in result.stdout
    assert "error: PlanFailed" in result.stderr
    assert "instance failed to start" in result.stderr


def test_wait_gives_up_after_the_timeout_with_exit_4(simulator_in_thread: Simulator) -> None:
    # The manual clock never moves, so the plan never ends.
    result = run_cli("restart", *KIBANA, "--wait", "--timeout", "0.3", "--poll-interval", "0.05",
                     env=env_for(simulator_in_thread))

    assert result.returncode == 4, result.stdout + result.stderr
    assert "error: CompletionTimeout: " in result.stderr
    assert "did not end within 0.3 s (last step validate-plan-prerequisites)" in result.stderr


def test_wait_never_takes_an_older_plan_for_its_own(make_simulator_in_thread: MakeSim) -> None:
    # A plan that is already pending and gets cancelled by --cancel-pending (a failed attempt in ECE's history,
    # started a moment before the request) is not the restart's plan.
    sim = make_simulator_in_thread(plan_seconds=0)
    resource = sim.resource(EXAMPLE_DEPLOYMENT_ID, "kibana", "main-kibana")
    resource.set_plan_duration(100)
    first = run_cli("restart", *KIBANA, env=env_for(sim))
    assert first.returncode == 0, first.stderr
    resource.set_plan_duration(0)

    result = run_cli("restart", *KIBANA, "--cancel-pending", "--wait", "--poll-interval", "0.05", env=env_for(sim))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "ECE completed the restart plan" in result.stdout
    assert sim.accepted_restarts() == 2


def test_invalid_deployment_id_exits_2_before_any_request(simulator_in_thread: Simulator) -> None:
    result = run_cli("restart", "--deployment", "not-a-deployment-id", "--kind", "kibana", "--ref-id", "main-kibana",
                     env=env_for(simulator_in_thread))

    assert result.returncode == 2
    assert result.stderr == ("error: deployment id 'not-a-deployment-id' is invalid: expected 32 lowercase "
                             "hexadecimal characters\n")
    assert simulator_in_thread.calls == []


# The table-driven cases below only exercise validation, so they call the console script's entry point in-process
# (`ece_restart.cli.main`, what `python -m ece_restart` runs) to keep the suite fast.

def run_in_process(args: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = cli.main(["restart", *args])
    except SystemExit as exit_:  # argparse
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("args, message", [
    (("--deployment", EXAMPLE_DEPLOYMENT_ID, "--kind", "kibana", "--ref-id", "a/b"), "ref_id 'a/b' is invalid"),
    (("--deployment", EXAMPLE_DEPLOYMENT_ID.upper(), "--kind", "kibana", "--ref-id", "x"), "lowercase hexadecimal"),
    ((*KIBANA, "--skip-snapshot"), "--skip-snapshot only apply to --kind elasticsearch"),
    ((*KIBANA, "--initial-delay", "10", "--max-delay", "1"), "initial_delay must not exceed max_delay"),
    (("--kind", "kibana", "--ref-id", "main-kibana"), "the following arguments are required: --deployment"),
    ((*KIBANA[:2], "--kind", "logstash", "--ref-id", "x"), "argument --kind: invalid choice: 'logstash'"),
    ((*KIBANA, "--max-attempts", "0"), "argument --max-attempts: must be at least 1"),
    ((*KIBANA, "--timeout", "soon"), "argument --timeout: not a number: 'soon'"),
    ((*KIBANA, "--poll-interval", "0"), "argument --poll-interval: must be greater than 0"),
])
def test_invalid_input_exits_2_before_any_request(simulator_in_thread: Simulator, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                                                  message: str) -> None:
    for name, value in env_for(simulator_in_thread).items():
        monkeypatch.setenv(name, value)

    code, out, err = run_in_process(args, capsys)

    assert (code, out) == (2, "")
    assert message in err
    assert simulator_in_thread.calls == []


@pytest.mark.parametrize("env, message", [
    ({"ECE_API_KEY": API_KEY}, "no ECE URL: pass --url or set ECE_URL"),
    ({"ECE_URL": "http://127.0.0.1:9"}, "no credentials"),
    ({"ECE_URL": "http://127.0.0.1:9", "ECE_USERNAME": "admin"}, "username and password must be given together"),
    ({"ECE_URL": "http://ece.example.com", "ECE_API_KEY": API_KEY}, "plain http"),
    ({"ECE_URL": "https://ece.example.com", "ECE_API_KEY": API_KEY, "ECE_USERNAME": "admin"}, "not both"),
    ({"ECE_URL": "https://ece.example.com", "ECE_API_KEY": API_KEY, "ECE_CA_FILE": "/nonexistent/ca.pem"},
     "cannot be read"),
])
def test_invalid_connection_settings_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                            env: dict[str, str], message: str) -> None:
    for name in ("ECE_URL", "ECE_API_KEY", "ECE_USERNAME", "ECE_PASSWORD", "ECE_CA_FILE", "ECE_INSECURE_SKIP_VERIFY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    code, _out, err = run_in_process(KIBANA, capsys)

    assert code == 2
    assert err.startswith("error: invalid ECE connection: ")
    assert message in err


def test_url_flag_overrides_the_environment(simulator_in_thread: Simulator, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ECE_URL", "https://ece.invalid")
    monkeypatch.setenv("ECE_API_KEY", API_KEY)

    code, out, err = run_in_process((*KIBANA, "--url", simulator_in_thread.url), capsys)

    assert code == 0, err
    assert f"through {simulator_in_thread.url}" in out
    assert simulator_in_thread.accepted_restarts() == 1


def test_help_documents_exit_codes_and_offers_no_credential_flag() -> None:
    result = run_cli("restart", "--help", env={})

    assert result.returncode == 0
    for text in ("ECE_API_KEY", "ECE_USERNAME and ECE_PASSWORD", "never from a flag", "exit codes:",
                 "3  outcome unknown"):
        assert text in result.stdout
    assert "--api-key" not in result.stdout and "--password" not in result.stdout


def test_the_api_key_is_never_printed(make_simulator_in_thread: MakeSim) -> None:
    sim = make_simulator_in_thread(api_keys={CANARY}, plan_seconds=0)
    sim.add_fault(Fault(route="restart", kind="kibana", status=503, times=1))
    env = {"ECE_URL": sim.url, "ECE_API_KEY": CANARY}
    apm = ("--deployment", EXAMPLE_DEPLOYMENT_ID, "--kind", "apm", "--ref-id", "main-apm")

    results = run_cli_many(
        (("restart", *KIBANA, "--wait", "--poll-interval", "0.05", *FAST_RETRIES, "--log-level", "debug"), env),
        (("restart", "--deployment", "f" * 32, "--kind", "apm", "--ref-id", "main-apm", "--log-level", "debug"), env),
        (("restart", *apm, "--log-level", "debug"), {**env, "ECE_API_KEY": CANARY + "-wrong"}),
    )
    succeeded, not_found, wrong_key = results
    outputs = [text for result in results for text in (result.stdout, result.stderr)]

    assert succeeded.returncode == 0, succeeded.stderr
    assert not_found.returncode == 1 and "DeploymentNotFound (HTTP 404" in not_found.stderr
    assert wrong_key.returncode == 1 and "Unauthorized (HTTP 401" in wrong_key.stderr
    assert any("DEBUG" in output for output in outputs)  # the debug log was on
    for output in outputs:
        assert CANARY not in output


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_on_a_terminal_the_wait_is_one_updating_line(simulator_in_thread: Simulator) -> None:
    import pty

    controller, terminal = pty.openpty()
    # The manual clock never moves: the plan stays at its first step until the timeout.
    process = subprocess.Popen([sys.executable, "-m", "ece_restart", "restart", *KIBANA, "--wait", "--timeout", "0.3",
                                "--poll-interval", "0.05"], stdout=terminal, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True, env=clean_env(env_for(simulator_in_thread)))
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + 60
    with contextlib.suppress(OSError):  # EIO once the command exits and the terminal closes
        while time.monotonic() < deadline:
            readable, _, _ = select.select([controller], [], [], deadline - time.monotonic())
            chunk = os.read(controller, 4096) if readable else b""
            if not chunk:
                break
            output += chunk
    os.close(controller)
    _out, err = process.communicate(timeout=60)

    assert process.returncode == 4, err
    text = output.decode()
    assert "\r\x1b[Kwaiting for the plan: validate-plan-prerequisites (" in text
    assert "step validate-plan-prerequisites (pending)\r\n" in text  # step changes stay as lines
    assert "CompletionTimeout" in err
