"""GET /status and GET /jobs/{id}: what was queued, where it went, and what went wrong."""
from __future__ import annotations


def status(services) -> dict:
    queued, counts = services.state.totals()
    return {
        "queued": queued,
        "finished": counts.finished,
        **counts.to_dict(),
        "queue": services.queue.depth(),
        "recent_problems": services.state.recent_events(),
    }


def job(services, job_id: str) -> dict | None:
    found = services.state.job(job_id)
    if found is None:
        return None
    total, counts = found
    done = counts.finished
    return {"job_id": job_id, "total": total, "done": done,
            "percent": 100.0 if total == 0 else round(100.0 * done / total, 1),
            "finished": done >= total, **counts.to_dict()}
