"""The API Lambda: FastAPI (REST upload, health) + Strawberry (GraphQL), served through Mangum."""
