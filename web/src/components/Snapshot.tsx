// A camera's latest frame: fetched with the access token (an <img src> cannot send it) and
// shown from an object URL.
import { useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { fetchBlobUrl } from "../api/client";

export function useSnapshot(cameraId: string, enabled: boolean, width = 960) {
  const query = useQuery({
    queryKey: ["cameras", "snapshot", cameraId, width],
    queryFn: ({ signal }) => fetchBlobUrl(`/api/v1/cameras/${cameraId}/snapshot?width=${width}`, signal),
    staleTime: 30_000,
    gcTime: 0,
    retry: false,
    enabled,
  });
  useEffect(() => {
    const url = query.data;
    return () => {
      if (url) URL.revokeObjectURL(url);
    };
  }, [query.data]);
  return query;
}
