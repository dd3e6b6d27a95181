"""Agent workflow automation: a bug fixer and a code reviewer driving a (local stand-in) agent VM.

``Vm`` stands in for the Agent OS VM actor: every VM key owns a temporary directory that plays
``/home/user``; ``exec`` runs real shell commands there (asyncio subprocess), files are read from
it, and "agent sessions" are a small scripted agent that edits files deterministically (no model
or API key needed). The workflows are the seed's: each step is durable, sessions are created
and closed inside the step that uses them, and data flows between steps through the VM
filesystem and step return values.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shlex
import shutil
import tempfile
from typing import Any

import msgspec

from rivet_dsl import Actor, UserError, WorkflowContext, action, queue, setup, workflow

HOME = "/home/user"
ALLOWED = frozenset({"cd", "git", "python3", "ls", "cat", "echo"})


class ExecResult(msgspec.Struct):
    exit_code: int
    stdout: str
    stderr: str


class Session(msgspec.Struct):
    session_id: str
    agent: str


class VmState(msgspec.Struct):
    root: str = ""
    sessions: dict[str, str] = msgspec.field(default_factory=dict)
    prompts: list[str] = msgspec.field(default_factory=list)


class Vm(Actor[VmState]):
    """A local stand-in for the agent VM: a temporary directory and real commands."""

    def on_create(self, input: Any) -> None:
        self.state.root = tempfile.mkdtemp(prefix="rivet-vm-")

    def on_destroy(self) -> None:
        shutil.rmtree(self.state.root, ignore_errors=True)

    def _path(self, path: str) -> str:
        if "\x00" in path:
            raise UserError("bad path", code="bad_path")
        if path.startswith(HOME):
            path = path[len(HOME) :].lstrip("/")
        full = os.path.realpath(os.path.join(self.state.root, path))
        if not full.startswith(os.path.realpath(self.state.root)):
            raise UserError("path escapes the VM", code="bad_path")
        return full

    @action
    async def exec(self, command: str) -> ExecResult:
        """Run ``command`` in the VM (``/home/user`` is the VM's directory).

        A stand-in VM is not a sandbox: commands are ``&&``-chains of allowed programs with
        their arguments (no shell metacharacters), each run without a shell.
        """
        root = self.state.root
        cwd = root
        result = ExecResult(0, "", "")
        for part in command.split("&&"):
            try:
                argv = [arg.replace(HOME, root) for arg in shlex.split(part)]
            except ValueError as exc:
                raise UserError(f"bad command: {exc}", code="bad_command") from None
            if (
                not argv
                or argv[0] not in ALLOWED
                or any(c in part for c in ";|`$<>")
                or (argv[0] == "git" and argv[1:2] != ["clone"])
                or (argv[0] == "python3" and argv[1:3] != ["-m", "unittest"])
            ):
                raise UserError(f"command not allowed in the VM: {part.strip()!r}", code="bad_command")
            if argv[0] == "cd":
                cwd = self._path(argv[1] if len(argv) > 1 else HOME)
                continue
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "HOME": root, "GIT_TERMINAL_PROMPT": "0"},
            )
            out, err = await proc.communicate()
            result = ExecResult(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))
            if result.exit_code != 0:
                break
        return result

    @action
    def remove(self, path: str) -> None:
        """Delete a file or directory inside the VM."""
        full = self._path(path)
        if full == os.path.realpath(self.state.root):
            raise UserError("refusing to delete the VM's home", code="bad_path")
        shutil.rmtree(full, ignore_errors=True)

    @action
    def read_file(self, path: str) -> str:
        try:
            with open(self._path(path)) as f:
                return f.read()
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read {path!r}: {exc.__class__.__name__}", code="not_found") from None

    @action
    def write_file(self, path: str, content: str) -> None:
        full = self._path(path)
        try:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(content)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot write {path!r}: {exc.__class__.__name__}", code="bad_path") from None

    @action
    def create_session(self, agent: str) -> Session:
        session_id = secrets.token_hex(8)
        self.state.sessions[session_id] = agent
        return Session(session_id, agent)

    @action
    async def send_prompt(self, session_id: str, prompt: str) -> str:
        """The scripted agent: understands the three prompts the workflows send."""
        if session_id not in self.state.sessions:
            raise UserError("unknown session", code="unknown_session")
        self.state.prompts.append(prompt)
        if prompt.startswith("Fix the bug described in issue:"):
            return self._fix_bug()
        match = re.match(r"Review the code at (\S+) and write your findings to (\S+)", prompt)
        if match:
            return self._review(match.group(1), match.group(2))
        if prompt.startswith("Apply the following review feedback:"):
            return self._apply(prompt.split("\n\n", 1)[1])
        return "I do not know how to do that."

    @action
    def close_session(self, session_id: str) -> None:
        self.state.sessions.pop(session_id, None)

    def _fix_bug(self) -> str:
        fixed = []
        for directory, _, files in os.walk(self._path(f"{HOME}/repo")):
            if ".git" in directory:
                continue
            for name in files:
                if not name.endswith(".py") or name.startswith("test"):
                    continue
                path = os.path.join(directory, name)
                with open(path) as f:
                    source = f.read()
                patched = source.replace("return a - b  # BUG", "return a + b")
                if patched != source:
                    with open(path, "w") as f:
                        f.write(patched)
                    fixed.append(name)
        return f"fixed {', '.join(fixed) or 'nothing'}"

    def _review(self, target: str, output: str) -> str:
        with open(self._path(target)) as f:
            lines = f.read().splitlines()
        findings = [f"line {i}: {line.strip()}" for i, line in enumerate(lines, 1) if "TODO" in line]
        with open(self._path(output), "w") as f:
            f.write("\n".join(findings) + "\n")
        return f"{len(findings)} findings"

    def _apply(self, review: str) -> str:
        applied = 0
        for finding in review.splitlines():
            match = re.match(r"line (\d+): ", finding)
            if match:
                applied += 1
        with open(self._path(f"{HOME}/applied.md"), "w") as f:
            f.write(f"applied {applied} findings\n")
        return f"applied {applied}"

    @action
    def get_state(self) -> VmState:
        return self.state


class FixBug(msgspec.Struct):
    repo: str
    issue: str


class BugFixerState(msgspec.Struct):
    last_issue: str | None = None
    last_exit_code: int | None = None


class BugFixer(Actor[BugFixerState]):
    @queue(name="fixBug")
    def fix_bug(self, body: FixBug) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-fix-bug", names=[self.fix_bug])
            repo, issue = message.body.repo, message.body.issue
            await loop.step("clone-repo", self.clone_repo, repo)
            await loop.step("fix-bug", self.fix_with_agent, issue)
            exit_code = await loop.step("run-tests", self.run_tests)
            await loop.step("record-result", self.record, issue, exit_code)

        await ctx.loop("fix-bug-loop", each)

    def vm(self) -> Any:
        return self.client().get_or_create("vm", ["bug-fixer"])

    async def clone_repo(self, repo: str) -> None:
        vm = self.vm()
        await vm.action("remove", f"{HOME}/repo")
        result = await vm.action("exec", f"git clone -q {repo} {HOME}/repo")
        if result["exit_code"] != 0:
            raise RuntimeError(f"git clone failed: {result['stderr']}")

    async def fix_with_agent(self, issue: str) -> None:
        vm = self.vm()
        session = await vm.action("create_session", "claude")
        try:
            await vm.action("send_prompt", session["session_id"], f"Fix the bug described in issue: {issue}")
        finally:
            await vm.action("close_session", session["session_id"])

    async def run_tests(self) -> int:
        result = await self.vm().action("exec", f"cd {HOME}/repo && python3 -m unittest -q")
        return int(result["exit_code"])

    def record(self, issue: str, exit_code: int) -> None:
        self.state.last_issue = issue
        self.state.last_exit_code = exit_code

    @action
    def get_state(self) -> BugFixerState:
        return self.state


class CodeReview(msgspec.Struct):
    file_path: str


class ReviewerState(msgspec.Struct):
    reviewed_files: int = 0
    last_review: str = ""


class CodeReviewer(Actor[ReviewerState]):
    @queue(name="codeReview")
    def code_review(self, body: CodeReview) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-code-review", names=[self.code_review])
            await loop.step("review", self.review_code, message.body.file_path)
            review = await loop.step("read-review", self.read_review)
            await loop.step("fix", self.apply_review, review)
            await loop.step("record-review", self.record, review)

        await ctx.loop("code-review-loop", each)

    def vm(self) -> Any:
        return self.client().get_or_create("vm", ["reviewer"])

    async def review_code(self, file_path: str) -> None:
        vm = self.vm()
        session = await vm.action("create_session", "claude")
        try:
            prompt = f"Review the code at {file_path} and write your findings to {HOME}/review.md"
            await vm.action("send_prompt", session["session_id"], prompt)
        finally:
            await vm.action("close_session", session["session_id"])

    async def read_review(self) -> str:
        return str(await self.vm().action("read_file", f"{HOME}/review.md"))

    async def apply_review(self, review: str) -> None:
        vm = self.vm()
        session = await vm.action("create_session", "claude")
        try:
            await vm.action("send_prompt", session["session_id"], f"Apply the following review feedback:\n\n{review}")
        finally:
            await vm.action("close_session", session["session_id"])

    def record(self, review: str) -> None:
        self.state.reviewed_files += 1
        self.state.last_review = review

    @action
    def get_state(self) -> ReviewerState:
        return self.state


registry = setup(Vm, BugFixer, CodeReviewer)
