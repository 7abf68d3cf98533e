"""The household's feedback: every question asked, thumbs, and corrections.

One SQLite file in the data folder, in WAL mode so the GUI can read while a
worker writes. Corrections (and thumbs-up on confident routes) become labelled
questions that the kNN router uses at once and training picks up later.
Categories are stored by code, which survives renames; names are looked up
when shown or exported.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .categories import CategoryBook
from .dataset import LabelledQuestion, _bundled_codes, _code_for, question_key
from .errors import CategoryError, FeedbackError
from .router import RouteDecision

logger = logging.getLogger(__name__)

FEEDBACK_FILE = "feedback.sqlite3"
KINDS = ("correction", "confirmed")

# One script per schema version; `PRAGMA user_version` says how many have run.
_MIGRATIONS = [
    """
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        question TEXT NOT NULL,
        category TEXT NOT NULL,          -- the name when asked
        code TEXT NOT NULL,
        confidence REAL NOT NULL,
        router TEXT NOT NULL,
        alternatives TEXT NOT NULL,      -- JSON list
        sources TEXT NOT NULL,           -- JSON list of hits
        answer TEXT NOT NULL,
        timings TEXT NOT NULL,           -- JSON object, milliseconds
        created_at TEXT NOT NULL,
        thumbs INTEGER,                  -- 1 up, 0 down, NULL none
        thumbs_at TEXT
    );
    CREATE TABLE labels (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        question_id INTEGER REFERENCES questions(id),  -- NULL when imported
        question TEXT NOT NULL,
        question_key TEXT NOT NULL,
        code TEXT NOT NULL,
        kind TEXT NOT NULL,              -- "correction" or "confirmed"
        comment TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    );
    CREATE INDEX labels_by_question ON labels(question_id);
    CREATE INDEX labels_by_key ON labels(question_key);
    """,
    # What was wrong with an answer whose category was right (thumbs-down).
    """
    ALTER TABLE questions ADD COLUMN thumbs_comment TEXT NOT NULL DEFAULT '';
    """,
    # Tokens per stage (a JSON object); NULL for questions asked before it.
    "ALTER TABLE questions ADD COLUMN usage TEXT",
]


@dataclass(frozen=True)
class AskedQuestion:
    """One recorded question, its route and the feedback it got."""

    id: int
    question: str
    category: str  # the routed category's name when asked
    code: str
    confidence: float
    router: str
    created_at: str
    thumbs: bool | None  # None: no thumbs given
    corrected_code: str | None  # the latest correction, if any
    comment: str
    thumbs_comment: str = ""  # what the asker said was wrong with the answer


@dataclass(frozen=True)
class FeedbackLabel:
    """A household label: a correction, or a confirmed route."""

    question: str
    code: str
    kind: str  # "correction" or "confirmed"
    comment: str
    created_at: str
    group_id: str

    def labelled(self) -> LabelledQuestion:
        return LabelledQuestion(self.question, self.code, self.group_id, self.kind)


@dataclass(frozen=True)
class QuestionStats:
    """What the Insights tab counts for one recorded question."""

    id: int
    code: str  # the routed category
    router: str
    thumbs: bool | None
    corrected_code: str | None  # the latest correction, if any
    timings: dict[str, float]  # milliseconds per stage
    usage: dict[str, int] | None  # tokens per stage; None before schema 3


def _now() -> str:
    return _timestamp(datetime.now(timezone.utc))


def _timestamp(moment: datetime) -> str:
    # One fixed UTC format, so timestamps sort as strings.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


class FeedbackStore:
    """Questions, thumbs and corrections in one SQLite file.

    Safe to share between threads: one connection, guarded by a lock.

    Args:
        path: The SQLite file; created with its folder if missing.
        confidence_threshold: A thumbs-up confirms a route only when the router
            was at least this sure (`Settings.confidence_threshold`).
    """

    def __init__(self, path: Path, confidence_threshold: float = 0.55):
        self.path = Path(path)
        self.confidence_threshold = confidence_threshold
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                logger.warning("%s stays in %s journal mode, not WAL", self.path, mode)
            self._migrate()
        except sqlite3.Error as exc:
            raise FeedbackError(
                f"Could not open the feedback store {self.path}: {exc}. Move the "
                "file aside to start a fresh one."
            ) from exc

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(_MIGRATIONS):
            raise FeedbackError(
                f"The feedback store {self.path} is schema version {version}, from "
                "a newer Household Assistant; update the app to use it."
            )
        for number, script in enumerate(_MIGRATIONS[version:], version + 1):
            logger.info("Migrating %s to schema version %d", self.path, number)
            self._conn.executescript(
                f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;"
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- writing ---------------------------------------------------------------

    def record_question(
        self,
        question: str,
        decision: RouteDecision,
        sources: list[dict],
        answer: str,
        timings: dict[str, float],
        usage: dict[str, int] | None = None,
    ) -> int:
        """Store one asked question; returns its id for thumbs and corrections."""
        alternatives = decision.to_dict()["alternatives"]
        row = (
            question,
            decision.category,
            decision.code,
            float(decision.confidence),
            decision.router,
            json.dumps(alternatives, ensure_ascii=False),
            json.dumps(sources, ensure_ascii=False),
            answer,
            json.dumps(timings),
            _now(),
            None if usage is None else json.dumps(usage),
        )
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "INSERT INTO questions (question, category, code, confidence, router,"
                " alternatives, sources, answer, timings, created_at, usage)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        return int(cursor.lastrowid)

    def thumbs(self, question_id: int, up: bool, comment: str = "") -> None:
        """Thumbs up or down on an answer; a later call replaces an earlier one.

        Args:
            comment: What was wrong with the answer (kept with the thumbs).
        """
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "UPDATE questions SET thumbs = ?, thumbs_at = ?, thumbs_comment = ?"
                " WHERE id = ?",
                (int(up), _now(), comment.strip(), question_id),
            )
        if cursor.rowcount == 0:
            raise self._unknown(question_id)

    def correct(
        self, question_id: int, code: str, comment: str = ""
    ) -> LabelledQuestion:
        """Label a recorded question with the category it should have had.

        Returns:
            The correction as a labelled question, ready for `KnnRouter.add`.
        """
        with self._lock, self._conn:
            found = self._conn.execute(
                "SELECT question FROM questions WHERE id = ?", (question_id,)
            ).fetchone()
            if found is None:
                raise self._unknown(question_id)
            cursor = self._conn.execute(
                "INSERT INTO labels (question_id, question, question_key, code, kind,"
                " comment, created_at) VALUES (?, ?, ?, ?, 'correction', ?, ?)",
                (
                    question_id,
                    found[0],
                    question_key(found[0]),
                    code,
                    comment.strip(),
                    _now(),
                ),
            )
        return LabelledQuestion(
            found[0], code, f"feedback-{cursor.lastrowid}", "correction"
        )

    def _unknown(self, question_id: int) -> FeedbackError:
        return FeedbackError(
            f"There is no question {question_id} in the feedback store. "
            "`household-assistant feedback list` shows the recent question ids."
        )

    # --- reading ---------------------------------------------------------------

    def recent(self, limit: int = 20) -> list[AskedQuestion]:
        """The latest questions asked, newest first."""
        latest = (
            "(SELECT {0} FROM labels l WHERE l.question_id = q.id"
            " AND l.kind = 'correction' ORDER BY l.created_at DESC, l.id DESC LIMIT 1)"
        )
        with self._lock:
            rows = self._conn.execute(
                "SELECT q.id, q.question, q.category, q.code, q.confidence, q.router,"
                f" q.created_at, q.thumbs, {latest.format('code')},"
                f" {latest.format('comment')}, q.thumbs_comment"
                " FROM questions q ORDER BY q.id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            AskedQuestion(
                *row[:7],
                thumbs=None if row[7] is None else bool(row[7]),
                corrected_code=row[8],
                comment=row[9] or "",
                thumbs_comment=row[10],
            )
            for row in rows
        ]

    def question_stats(self) -> list[QuestionStats]:
        """Every recorded question's route, feedback, timings and tokens, oldest
        first (for the Insights tab)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT q.id, q.code, q.router, q.thumbs,"
                " (SELECT l.code FROM labels l WHERE l.question_id = q.id"
                "  AND l.kind = 'correction' ORDER BY l.created_at DESC, l.id DESC"
                "  LIMIT 1),"
                " q.timings, q.usage FROM questions q ORDER BY q.id"
            ).fetchall()
        return [
            QuestionStats(
                id_,
                code,
                router,
                None if thumbs is None else bool(thumbs),
                corrected,
                json.loads(timings or "{}"),
                None if usage is None else json.loads(usage),
            )
            for id_, code, router, thumbs, corrected, timings, usage in rows
        ]

    def labels(self, confirm_on_thumbs_up: bool = True) -> list[FeedbackLabel]:
        """The household's labels as they stand: one per distinct question.

        A correction beats a confirmation and the latest of each kind wins.
        Routes the user chose by hand ("manual") never count as confirmed: such
        questions often lean on the chosen category ("what colour?").

        Args:
            confirm_on_thumbs_up: Count thumbs-ups on confident routes (and
                imported confirmations) as labels.
        """
        rows = self._all_labels()
        if not confirm_on_thumbs_up:
            rows = [row for row in rows if row.kind == "correction"]

        best: dict[str, FeedbackLabel] = {}
        ranked = sorted(rows, key=lambda r: (r.kind == "correction", r.created_at))
        for row in ranked:
            best[question_key(row.question)] = row
        return sorted(best.values(), key=lambda r: r.created_at)

    def labelled(self, confirm_on_thumbs_up: bool = True) -> list[LabelledQuestion]:
        """`labels` as labelled questions, for the kNN router and training."""
        return [label.labelled() for label in self.labels(confirm_on_thumbs_up)]

    def _all_labels(self) -> list[FeedbackLabel]:
        # Confirmations come from thumbs at read time, so a later thumbs-down
        # withdraws one; corrections and imports are rows of their own.
        with self._lock:
            confirmed = self._conn.execute(
                "SELECT id, question, code, thumbs_at FROM questions"
                " WHERE thumbs = 1 AND router != 'manual' AND confidence >= ?"
                " ORDER BY id",
                (self.confidence_threshold,),
            ).fetchall()
            stored = self._conn.execute(
                "SELECT id, question, code, kind, comment, created_at FROM labels"
                " ORDER BY id"
            ).fetchall()
        rows = [
            FeedbackLabel(question, code, "confirmed", "", at, f"feedback-q{id_}")
            for id_, question, code, at in confirmed
        ]
        rows += [
            FeedbackLabel(question, code, kind, comment, at, f"feedback-{id_}")
            for id_, question, code, kind, comment, at in stored
        ]
        return rows

    # --- moving labels between Macs -------------------------------------------------

    def export_jsonl(
        self, path: Path, categories: CategoryBook, confirm_on_thumbs_up: bool = True
    ) -> int:
        """Write the household's labels as JSONL; returns how many lines.

        Each line is {"question", "category", "code", "kind", "comment",
        "created_at"}, which `import_jsonl` and `eval --data` both read.
        """
        lines = []
        for label in self.labels(confirm_on_thumbs_up):
            try:
                name = categories.by_code(label.code).name
            except CategoryError:
                logger.warning(
                    "Not exporting %r: no category has code %s", label, label.code
                )
                continue
            item = {
                "question": label.question,
                "category": name,
                "code": label.code,
                "kind": label.kind,
                "comment": label.comment,
                "created_at": label.created_at,
            }
            lines.append(json.dumps(item, ensure_ascii=False) + "\n")

        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text("".join(lines), encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            raise FeedbackError(
                f"Could not write {path}: {exc.strerror or exc}. Choose a folder "
                "you can write to."
            ) from exc
        return len(lines)

    def import_jsonl(self, path: Path, categories: CategoryBook) -> int:
        """Add the labels in an exported JSONL file; returns how many were new.

        The whole file is checked before anything is written, and written in
        one transaction, so a bad line changes nothing. Labels already stored
        (same question, category, kind and time) are skipped, so importing a
        file twice adds nothing the second time.
        """
        incoming = _read_labels(Path(path), categories)
        with self._lock, self._conn:
            seen = _seen_keys(self._conn, self.confidence_threshold)
            added = 0
            for label in incoming:
                exact, loose = _identity(label)
                if exact in seen or (label.created_at == "" and loose in seen):
                    continue
                seen.update(_identity(label))
                self._conn.execute(
                    "INSERT INTO labels (question_id, question, question_key, code,"
                    " kind, comment, created_at) VALUES (NULL, ?, ?, ?, ?, ?, ?)",
                    (
                        label.question,
                        question_key(label.question),
                        label.code,
                        label.kind,
                        label.comment,
                        label.created_at or _now(),
                    ),
                )
                added += 1
        logger.info("Imported %d of %d labels from %s", added, len(incoming), path)
        return added


def _identity(label: FeedbackLabel) -> tuple[tuple, tuple]:
    # Exact: the same label, stamped the same. Loose: for lines with no time.
    loose = (question_key(label.question), label.code, label.kind)
    return (*loose, label.created_at), loose


def _seen_keys(conn: sqlite3.Connection, threshold: float) -> set[tuple]:
    rows = conn.execute(
        "SELECT question, code, 'confirmed', thumbs_at FROM questions"
        " WHERE thumbs = 1 AND router != 'manual' AND confidence >= ?"
        " UNION ALL SELECT question, code, kind, created_at FROM labels",
        (threshold,),
    ).fetchall()
    seen: set[tuple] = set()
    for question, code, kind, at in rows:
        seen.update(_identity(FeedbackLabel(question, code, kind, "", at, "")))
    return seen


def _read_labels(path: Path, categories: CategoryBook) -> list[FeedbackLabel]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedbackError(
            f"Could not read {path}: {getattr(exc, 'strerror', None) or exc}. Pass "
            "a UTF-8 JSONL file written by `household-assistant feedback export`."
        ) from exc

    labels = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            labels.append(_parse_line(line, categories, f"{path}:{number}"))
    return labels


def _parse_line(line: str, categories: CategoryBook, where: str) -> FeedbackLabel:
    expected = (
        'a JSON object such as {"question": "furnace filter size?", '
        '"category": "hvac", "kind": "correction"}'
    )
    fix = "Fix or remove that line and import again; nothing was imported."
    try:
        item = json.loads(line)
    except ValueError as exc:
        raise FeedbackError(f"{where}: expected {expected}; {exc}. {fix}") from exc

    problem = _problem(item)
    if problem:
        raise FeedbackError(f"{where}: expected {expected}; {problem}. {fix}")
    created_at = item.get("created_at") or ""
    try:
        created_at = created_at and _timestamp(datetime.fromisoformat(created_at))
    except ValueError:
        raise FeedbackError(
            f"{where}: 'created_at' should be an ISO time such as "
            f"2025-05-12T09:30:00+00:00; found {created_at!r}. {fix}"
        ) from None
    return FeedbackLabel(
        item["question"].strip(),
        _resolve_code(item, categories, where, fix),
        item.get("kind", "correction"),
        (item.get("comment") or "").strip(),
        created_at,
        "",
    )


def _problem(item) -> str:
    """What is wrong with one parsed line, or "" when nothing is."""
    if not isinstance(item, dict):
        return f"found {type(item).__name__}"
    for key in ("question", "category"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            return f"{key!r} is missing or not a non-empty string"
    for key in ("comment", "created_at", "code"):
        if item.get(key) is not None and not isinstance(item[key], str):
            return f"{key!r} should be a string, found {item[key]!r}"
    if item.get("kind", "correction") not in KINDS:
        return f"'kind' should be correction or confirmed, found {item['kind']!r}"
    return ""


def _resolve_code(item: dict, categories: CategoryBook, where: str, fix: str) -> str:
    """The category's code here: by name, by bundled name, then by bundled code.

    A code alone is trusted only if it is a bundled one: codes of categories a
    household added can mean different categories on different Macs.
    """
    try:
        return _code_for(item["category"], categories, where)
    except CategoryError as exc:
        code = item.get("code")
        if code in _bundled_codes().values() and code in categories.codes:
            return code
        raise CategoryError(f"{exc} {fix}") from None
