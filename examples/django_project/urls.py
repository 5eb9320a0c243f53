import views
from django.urls import path

urlpatterns = [
    path("", views.index),
    path("articles/<slug:slug>/", views.article),
]
