from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness only: touches no AWS service, so it is free to poll."""
    return {"status": "ok"}
