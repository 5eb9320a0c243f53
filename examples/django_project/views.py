from django.http import HttpResponse, JsonResponse

ARTICLES = {"hello-edge": "Hello, edge", "caching": "How the edge cache works"}


def index(request):
    links = "".join(f"<li><a href='/articles/{slug}/'>{t}</a></li>" for slug, t in ARTICLES.items())
    return HttpResponse(f"<h1>Django behind CloudFront</h1><ul>{links}</ul>")


def article(request, slug):
    if slug not in ARTICLES:
        return HttpResponse("Not Found", status=404, content_type="text/plain")
    response = JsonResponse({"slug": slug, "title": ARTICLES[slug]})
    response["Cache-Control"] = "public, max-age=600"
    return response
