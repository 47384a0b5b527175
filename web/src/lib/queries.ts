// Query definitions shared by several screens (keys start with the noun, for invalidation).
import { queryOptions } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";

export const spacesQuery = queryOptions({
  queryKey: ["spaces"],
  queryFn: () => unwrap(api.GET("/api/v1/spaces", { params: { query: { limit: 100 } } })),
});

export const camerasQuery = (spaceId?: string) =>
  queryOptions({
    queryKey: ["cameras", "list", spaceId ?? "all"],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/cameras", {
          params: { query: { limit: 100, ...(spaceId ? { space_id: spaceId } : {}) } },
        }),
      ),
  });

export const cameraQuery = (cameraId: string) =>
  queryOptions({
    queryKey: ["cameras", "one", cameraId],
    queryFn: () =>
      unwrap(api.GET("/api/v1/cameras/{camera_id}", { params: { path: { camera_id: cameraId } } })),
  });

export const guardsQuery = (spaceId?: string) =>
  queryOptions({
    queryKey: ["guards", "list", spaceId ?? "all"],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/guards", {
          params: { query: { limit: 100, ...(spaceId ? { space_id: spaceId } : {}) } },
        }),
      ),
  });

export const meQuery = queryOptions({
  queryKey: ["me"],
  queryFn: () => unwrap(api.GET("/api/v1/user/me")),
});

export const preferencesQuery = queryOptions({
  queryKey: ["me", "preferences"],
  queryFn: () => unwrap(api.GET("/api/v1/user/me/preferences")),
});
