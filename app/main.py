"""The FastAPI application: REST routes, GraphQL, one error shape, one body-size limit."""

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.auth import require_api_key, require_api_key_for_graphql
from app.docs import install_docs
from app.errors import install_error_handlers
from app.graphql.schema import graphql_router
from app.openapi import install_openapi
from app.request_limits import BodySizeLimit
from app.routes import health, unsubscribe, upload, uploads
from campaign.config import api_settings


def create_app() -> FastAPI:
    app = FastAPI(
        title="CSV campaign sender",
        version="0.1.0",
        description=(
            "Upload an email,subject,content CSV; each row is sent once through SES; query statuses over GraphQL."
        ),
        # app.docs serves /docs with Swagger UI from the app's own files; FastAPI's pages load it from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_openapi(app)
    install_docs(app)
    app.add_middleware(BodySizeLimit)
    origins = api_settings().cors_allow_origins
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "x-api-key", "content-type"],
        )
    app.include_router(health.router)
    # No API key: the token in each message's link is the credential.
    app.include_router(unsubscribe.router)
    app.include_router(upload.router, dependencies=[Depends(require_api_key)])
    app.include_router(uploads.router, dependencies=[Depends(require_api_key)])
    app.include_router(graphql_router(), prefix="/graphql", dependencies=[Depends(require_api_key_for_graphql)])
    return app
