#!/usr/bin/env python3
"""Checks the agent's layering: each room (folder of agent/) links and includes only rooms below it.

The order of the rooms is the order of `add_subdirectory()` in agent/CMakeLists.txt, bottom first.
The links are the `ROOMS` lists of each room's `vipd_room()` call. A room may list only rooms
earlier in the order, and may `#include "<room>/..."` only rooms it reaches through those links
(or the shared headers under include/). Anything else is an upward or sideways arrow.

Usage: check-layers.py [--root DIR]   (DIR: the repository, default: this script's parent's parent)
Exit 0 when the layering holds, 1 with one line per violation otherwise.
"""
import argparse
import re
import sys
from pathlib import Path

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)
SUBDIRECTORY = re.compile(r"^\s*add_subdirectory\(\s*(\w+)\s*\)", re.MULTILINE)
ROOM_CALL = re.compile(r"vipd_room\(\s*(\w+)(.*?)\)", re.DOTALL)
KEYWORDS = {"SOURCES", "ROOMS", "LIBS", "SANITIZED"}


def room_order(agent: Path) -> list[str]:
    return SUBDIRECTORY.findall((agent / "CMakeLists.txt").read_text())


def declared_links(agent: Path, room: str) -> list[str]:
    """The ROOMS of the room's vipd_room() call."""
    cmake = agent / room / "CMakeLists.txt"
    for name, body in ROOM_CALL.findall(cmake.read_text() if cmake.exists() else ""):
        if name != room:
            continue
        words = body.split()
        links, in_rooms = [], False
        for word in words:
            if word in KEYWORDS:
                in_rooms = word == "ROOMS"
            elif in_rooms:
                links.append(word)
        return links
    return []


def reachable(room: str, links: dict[str, list[str]]) -> set[str]:
    seen, todo = set(), list(links.get(room, []))
    while todo:
        below = todo.pop()
        if below in seen:
            continue
        seen.add(below)
        todo.extend(links.get(below, []))
    return seen


def check(root: Path) -> list[str]:
    agent = root / "agent"
    order = room_order(agent)
    rank = {room: i for i, room in enumerate(order)}
    links = {room: declared_links(agent, room) for room in order}
    problems = []
    for room in order:
        if not (agent / room / "CMakeLists.txt").exists() or not re.search(
                rf"vipd_room\(\s*{room}\b", (agent / room / "CMakeLists.txt").read_text()):
            problems.append(f"agent/{room}: no vipd_room({room} ...) in its CMakeLists.txt")
        for below in links[room]:
            if below not in rank:
                problems.append(f"agent/{room}/CMakeLists.txt: links unknown room '{below}'")
            elif rank[below] >= rank[room]:
                problems.append(f"agent/{room}/CMakeLists.txt: links '{below}', which is not below "
                                f"'{room}' (order: {' < '.join(order)})")
    for room in order:
        allowed = reachable(room, links) | {room}
        for path in sorted((agent / room).glob("*")):
            if path.suffix not in (".h", ".cpp"):
                continue
            for header in INCLUDE.findall(path.read_text()):
                top = header.split("/", 1)[0]
                if "/" not in header or top not in rank:
                    continue  # include/vipd/..., generated skeletons, third-party headers
                if top not in allowed:
                    problems.append(f"{path.relative_to(root)}: #include \"{header}\" points from "
                                    f"'{room}' to '{top}', which it does not link "
                                    f"(it links: {', '.join(sorted(allowed - {room})) or 'nothing'})")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    problems = check(args.root)
    for problem in problems:
        print(problem)
    if problems:
        print(f"check-layers: {len(problems)} violation(s)", file=sys.stderr)
        return 1
    print(f"check-layers: {' < '.join(room_order(args.root / 'agent'))}: every arrow points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
